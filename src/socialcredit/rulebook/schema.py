"""The rulebook's JSON Schema, generated from the pydantic models.

Editors (the YAML language server, IntelliJ) read a JSON Schema to complete keys, show
each key's meaning and flag typos while a rulebook is written; CI tools can validate
with it without Python. It is derived from the same models the loader validates with,
so it cannot drift from them; `docs/schema/rulebook.schema.json` is a committed copy
that a test keeps current.

    python -m socialcredit.rulebook.schema                 # print it
    python -m socialcredit.rulebook.schema --out FILE      # write it
    python -m socialcredit.rulebook.schema --check FILE    # exit 1 if FILE is stale
    python -m socialcredit.rulebook.schema --catalogue --out docs/schema/catalogue.schema.json

The schema accepts what the loader accepts, with one difference: the model's own
cross-checks (a rule's record type must be declared, exactly one of `points` and
`points_per_unit`, tiers highest first…) are not expressible in JSON Schema and are
left to `socialcredit lint`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from socialcredit.rulebook.model import (
    DURATION_HELP,
    DURATION_MARK,
    DURATION_PATTERN,
    Rulebook,
)

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DURATION_REF = "#/$defs/Duration"
# pydantic's constraint names on a schema it could not map (the duration is replaced
# wholesale), translated into JSON Schema's own.
_CONSTRAINTS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum",
                "le": "maximum"}


def _durations(node: Any) -> Any:
    """Replace every inlined duration with a reference to one `Duration` definition."""
    if isinstance(node, list):
        return [_durations(x) for x in node]
    if not isinstance(node, dict):
        return node
    if node.get(DURATION_MARK):
        out: dict[str, Any] = {"$ref": DURATION_REF}
        for key, value in node.items():
            if key != DURATION_MARK:
                out[_CONSTRAINTS[key] if key in _CONSTRAINTS else str(key)] = value
        return out
    return {k: _durations(v) for k, v in node.items()}


def rulebook_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a rulebook, with every key's description."""
    raw = Rulebook.model_json_schema(mode="validation")
    schema: dict[str, Any] = _durations(raw)
    schema["$defs"]["Duration"] = {
        "description": DURATION_HELP,
        "anyOf": [{"type": "string", "pattern": DURATION_PATTERN},
                  {"type": "number", "minimum": 0}],
        "examples": ["10d", "2w", "1y", 90],
    }
    head = {
        "$schema": DIALECT,
        "title": "socialcredit rulebook",
        "description": "One version of one program: record types, rules, attributes, "
                       "tiers, lists and consequences. Reference: docs/rulebook.md.",
    }
    return head | {k: v for k, v in schema.items() if k not in ("title", "description")}


def catalogue_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a catalogue (rulebook/catalogue.py)."""
    from socialcredit.rulebook.catalogue import Catalogue

    schema: dict[str, Any] = _durations(Catalogue.model_json_schema(mode="validation"))
    schema.setdefault("$defs", {})["Duration"] = {
        "description": DURATION_HELP,
        "anyOf": [{"type": "string", "pattern": DURATION_PATTERN},
                  {"type": "number", "minimum": 0}],
        "examples": ["90d", "3y", 365],
    }
    head = {
        "$schema": DIALECT,
        "title": "socialcredit catalogue",
        "description": "One version of a catalogue: the allowlist of information items a "
                       "rulebook may record and of measures it may take. Reference: "
                       "docs/catalogues.md.",
    }
    return head | {k: v for k, v in schema.items() if k not in ("title", "description")}


def schema_text(kind: str = "rulebook") -> str:
    """The schema as committed: stable key order, two-space indent, trailing newline."""
    schema = catalogue_json_schema() if kind == "catalogue" else rulebook_json_schema()
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m socialcredit.rulebook.schema",
                                     description="Print, write or check the rulebook "
                                                 "JSON Schema.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--out", type=Path, help="write the schema to this file")
    group.add_argument("--check", type=Path, help="exit 1 if this file is not current")
    parser.add_argument("--catalogue", action="store_true",
                        help="the catalogue schema rather than the rulebook's")
    args = parser.parse_args(argv)
    text = schema_text("catalogue" if args.catalogue else "rulebook")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    elif args.check is not None:
        current = args.check.read_text(encoding="utf-8") if args.check.is_file() else None
        if current != text:
            flag = " --catalogue" if args.catalogue else ""
            print(f"{args.check} is stale: run python -m socialcredit.rulebook.schema{flag} "
                  f"--out {args.check}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
