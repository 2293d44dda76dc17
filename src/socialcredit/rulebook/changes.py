"""What a new version of a rulebook changes, entry by entry: what a publisher shows before
(and with) a publication, so nobody learns of a harsher rule from its effects.

Entries are matched by what identifies them: record types, dimensions, attributes, tiers
and lists by `id`; rules by the record type and dimension they score (several rules on
one pair are matched in order); consequences by action, effect and condition; the scale
and due-process settings as wholes. Values compare in canonical form (durations in days).
"""

from __future__ import annotations

import json
from typing import Any

from socialcredit.rulebook.model import Rulebook

KEYED = ("dimensions", "record_types", "attributes", "tiers", "lists")
WHOLE = ("title", "subjects", "scale", "due_process")


def _canonical(rb: Rulebook) -> dict[str, Any]:
    return dict(json.loads(rb.canonical()))


def _key(section: str, entry: dict[str, Any], seen: dict[str, int]) -> str:
    if section == "rules":
        base = f"{entry.get('record')}→{entry.get('dimension')}"
    elif section == "consequences":
        when = json.dumps(entry.get("when", {}), sort_keys=True, separators=(",", ":"))
        base = f"{entry.get('action')} {entry.get('effect')} when {when}"
    else:
        return str(entry.get("id"))
    n = seen.get(base, 0)
    seen[base] = n + 1
    return base if n == 0 else f"{base} #{n + 1}"


def _entries(section: str, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    seen: dict[str, int] = {}
    return {_key(section, e, seen): e for e in items}


def changes(before: Rulebook | None, after: Rulebook) -> list[dict[str, Any]]:
    """Every added, removed or changed entry from `before` to `after` (all of `after`
    added when there is no `before`). Each change: section, key, change, before, after
    (and, for a changed entry, the fields that differ)."""
    b = _canonical(before) if before is not None else {}
    a = _canonical(after)
    out: list[dict[str, Any]] = []
    for section in WHOLE:
        if b.get(section) != a.get(section) and (section in a or section in b):
            out.append({"section": section, "key": section,
                        "change": "added" if section not in b else
                        "removed" if section not in a else "changed",
                        "before": b.get(section), "after": a.get(section)})
    for section in (*KEYED, "rules", "consequences"):
        old = _entries(section, b.get(section, []))
        new = _entries(section, a.get(section, []))
        for key in [*old, *(k for k in new if k not in old)]:
            x, y = old.get(key), new.get(key)
            if x == y:
                continue
            item: dict[str, Any] = {"section": section, "key": key,
                                    "change": "added" if x is None else
                                    "removed" if y is None else "changed",
                                    "before": x, "after": y}
            if x is not None and y is not None:
                item["fields"] = sorted(k for k in {*x, *y} if x.get(k) != y.get(k))
            out.append(item)
    return out


__all__ = ["changes"]
