"""What a new version changes, rule by rule: what `publish` shows before it publishes.

Items are matched by what they are about, not by position: record types, dimensions,
tiers and lists by id; rules and attributes by the record type they score (the n-th rule
on a type matches the n-th, as lex mitior compares them); consequences by action and
effect. Each line says what was added, removed or changed, field by field, and for
points whether the change is harsher or milder for the subject.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from socialcredit.rulebook.model import Rulebook

Key = Callable[[Any, int, Sequence[Any]], str]


def _nth(attr: str) -> Key:
    def key(item: Any, i: int, items: Sequence[Any]) -> str:
        value = getattr(item, attr)
        n = sum(1 for x in items[:i] if getattr(x, attr) == value)
        return f"{value}" + (f" #{n + 1}" if n else "")
    return key


def _by_id(item: Any, _i: int, _items: Sequence[Any]) -> str:
    return str(item.id)


def _consequence(item: Any, i: int, items: Sequence[Any]) -> str:
    n = sum(1 for x in items[:i] if (x.action, x.effect) == (item.action, item.effect))
    return f"{item.effect} {item.action}" + (f" #{n + 1}" if n else "")


SECTIONS: tuple[tuple[str, Key], ...] = (
    ("dimensions", _by_id), ("record_types", _by_id), ("rules", _nth("record")),
    ("attributes", _nth("record")), ("tiers", _by_id), ("lists", _by_id),
    ("consequences", _consequence))
_DOC = ("label", "description", "note", "source", "illustrative")
_POINTS = ("points", "points_per_unit", "resolved_points")
_LONGER_IS_HARSHER = ("expires", "half_life", "max_duration", "max_count")


def _plain(item: Any) -> dict[str, Any]:
    data: dict[str, Any] = item.model_dump(mode="json", exclude_none=True)
    return {k: v for k, v in data.items() if k not in _DOC}


def _judge(field: str, old: Any, new: Any) -> str:
    if not isinstance(old, int | float) or not isinstance(new, int | float) or old == new:
        return ""
    if field in _POINTS:
        return " (harsher)" if new < old else " (milder)"
    if field in _LONGER_IS_HARSHER:
        return " (harsher)" if new > old else " (milder)"
    if field == "notice":
        return " (milder)" if new > old else " (harsher)"
    return ""


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = []
    for field in sorted(set(old) | set(new)):
        a, b = old.get(field), new.get(field)
        if a != b:
            out.append(f"{field}: {_show(a)} → {_show(b)}{_judge(field, a, b)}")
    return out


def _show(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, dict | list):
        import json

        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    return str(v)


def rulebook_diff(old: Rulebook | None, new: Rulebook) -> list[str]:
    """One line per change from `old` (the version in force) to `new`."""
    if old is None:
        return [f"new program {new.rulebook}: {len(new.rules)} rule(s), "
                f"{len(new.lists)} list(s), {len(new.consequences)} consequence(s)"]
    if old.sha256 == new.sha256:
        return []
    out: list[str] = []
    for field in ("subjects", "scale", "catalogue", "subject_ids"):
        a, b = getattr(old, field), getattr(new, field)
        da = a.model_dump(mode="json", exclude_none=True) if hasattr(a, "model_dump") else a
        db = b.model_dump(mode="json", exclude_none=True) if hasattr(b, "model_dump") else b
        if isinstance(da, tuple):
            da, db = list(da), list(db)
        if da != db:
            if isinstance(da, dict) and isinstance(db, dict):
                out.extend(f"{field}: {c}" for c in _changes(da, db))
            else:
                out.append(f"{field}: {_show(da)} → {_show(db)}")
    for section, key in SECTIONS:
        a_items, b_items = getattr(old, section), getattr(new, section)
        a = {key(x, i, a_items): x for i, x in enumerate(a_items)}
        b = {key(x, i, b_items): x for i, x in enumerate(b_items)}
        for k in a:
            if k not in b:
                out.append(f"{section}[{k}]: removed")
        for k, item in b.items():
            if k not in a:
                out.append(f"{section}[{k}]: added ({_show(_plain(item))})")
                continue
            for change in _changes(_plain(a[k]), _plain(item)):
                out.append(f"{section}[{k}]: {change}")
    return out


__all__ = ["rulebook_diff"]
