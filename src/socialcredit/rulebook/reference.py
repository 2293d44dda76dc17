"""The key-by-key tables of docs/rulebook.md, generated from the models.

A hand-kept reference drifts the day someone adds a field; this one is written from the
same JSON Schema the loader's models produce (`rulebook_json_schema`), and a test fails
when a field has no description or when the tables in the document are stale. The prose
and the examples around the tables stay hand-written: only the text between

    <!-- BEGIN GENERATED reference:NAME -->
    <!-- END GENERATED reference:NAME -->

is replaced, one block per model (NAME is the model, or `documentation-keys`).

    python -m socialcredit.rulebook.reference                  # print every table
    python -m socialcredit.rulebook.reference --write FILE     # refresh FILE's tables
    python -m socialcredit.rulebook.reference --check FILE     # exit 1 if stale
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from socialcredit.rulebook.model import DOC_KEYS, Rulebook, nested_models
from socialcredit.rulebook.schema import DURATION_REF, rulebook_json_schema

DOC_KEYS_BLOCK = "documentation-keys"
COMMAND = "python -m socialcredit.rulebook.reference --write docs/rulebook.md"
_BLOCK = re.compile(r"<!-- BEGIN GENERATED reference:(?P<name>[\w-]+) -->\n"
                    r"(?P<body>.*?)"
                    r"<!-- END GENERATED reference:(?P=name) -->", re.S)
# Keys every model accepts, documented once rather than in every table.


@dataclass(frozen=True)
class Section:
    model: str  # the model's name (a key of the schema's $defs, or Rulebook)
    where: str  # where its keys sit in a rulebook: "rules[]", "lists[].enter_when"
    schema: dict[str, Any]


def anchor(model: str) -> str:
    return f"model-{model.lower()}"


def sections(schema: dict[str, Any] | None = None) -> list[Section]:
    """Every model reachable from the top level, in the order a reader meets them."""
    schema = schema or rulebook_json_schema()
    defs: dict[str, Any] = schema["$defs"]
    out: list[Section] = [Section("Rulebook", "(top level)", schema)]
    seen = {"Rulebook", "Duration"}

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else []
            for v in node.values():
                found.extend(refs(v))
            return found
        if isinstance(node, list):
            return [r for x in node for r in refs(x)]
        return []

    i = 0
    while i < len(out):
        sec = out[i]
        for key, prop in sec.schema.get("properties", {}).items():
            for name in refs(prop):
                if name in seen:
                    continue
                seen.add(name)
                many = _is_array(prop)
                prefix = "" if sec.model == "Rulebook" else f"{sec.where}."
                out.append(Section(name, f"{prefix}{key}{'[]' if many else ''}", defs[name]))
        i += 1
    return out


def _is_array(prop: dict[str, Any]) -> bool:
    options = prop.get("anyOf", [prop])
    return any(o.get("type") == "array" for o in options)


def _type(node: dict[str, Any]) -> str:
    """A reader's name for a property's type."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        if node["$ref"] == DURATION_REF:
            base = "[duration](#durations)"
        else:
            base = f"mapping ([{name}](#{anchor(name)}))"
        if "exclusiveMinimum" in node:
            base += f", > {_fmt(node['exclusiveMinimum'])}"
        return base
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        kinds = [_type(o) for o in options]
        return " or ".join(kinds)
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    t = node.get("type")
    if t == "array":
        return f"list of {_type(node.get('items', {}))}"
    if t == ["string", "number"]:
        return "text"  # an id or version: YAML's `version: 1` is read as the text "1"
    names = {"string": "text", "number": "number", "integer": "integer",
             "boolean": "`true` \\| `false`", "object": "mapping (any keys)"}
    base = names.get(str(t), "any value")
    if "minimum" in node:
        base += f", ≥ {_fmt(node['minimum'])}"
    if "exclusiveMinimum" in node:
        base += f", > {_fmt(node['exclusiveMinimum'])}"
    return base


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _yaml(value: Any) -> str:
    """One line of flow-style YAML, as the shipped rulebooks write short values."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000,
                          sort_keys=False).strip()
    return text.removesuffix("\n...").strip()


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(model: str, key: str, prop: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" in prop:
        return "—" if prop["default"] is None else f"`{_yaml(prop['default'])}`"
    # a default made by a factory (an empty `when:`) is not in the schema: ask the model
    field = model_classes()[model].model_fields[key]
    made = field.default_factory() if field.default_factory is not None else None  # type: ignore[call-arg]
    if isinstance(made, BaseModel):
        made = made.model_dump(mode="json", exclude_none=True)
    return "—" if made is None else f"`{_yaml(made)}`"


def model_classes() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    todo: list[type[BaseModel]] = [Rulebook]
    while todo:
        m = todo.pop()
        if m.__name__ not in found:
            found[m.__name__] = m
            for field in m.model_fields.values():
                todo.extend(nested_models(field.annotation))
    return found


def table(sec: Section, *, doc_keys: bool = False) -> str:
    """The markdown table of one model's keys (or of the documentation keys)."""
    props: dict[str, Any] = sec.schema.get("properties", {})
    required = set(sec.schema.get("required", ()))
    keys = [k for k in props if (k in DOC_KEYS) == doc_keys]
    if doc_keys:
        head = ("Accepted in every mapping of a rulebook (top level, scale, each dimension, "
                "record type, rule, attribute, bin, tier, list, `enter_when`, consequence "
                "and `when`); the engine ignores them.")
    else:
        head = (f"Keys of `{sec.where}` (model `{sec.model}`); the "
                "[documentation keys](#model-documentation-keys) are accepted too.")
    rows = [f'<a id="{anchor(sec.model) if not doc_keys else "model-documentation-keys"}">'
            "</a>", "", head, "", "| key | type | default | meaning | example |",
            "|---|---|---|---|---|"]
    for key in keys:
        prop = props[key]
        default = _default(sec.model, key, prop, key in required)
        examples = prop.get("examples")
        example = f"`{key}: {_yaml(examples[0])}`" if examples else "see below"
        rows.append(f"| `{key}` | {_type(prop)} | {default} | "
                    f"{_cell(prop.get('description', ''))} | {_cell(example)} |")
    return "\n".join(rows) + "\n"


def blocks(schema: dict[str, Any] | None = None) -> dict[str, str]:
    """Block name -> generated text, in reading order (documentation keys last)."""
    secs = sections(schema)
    out = {s.model: table(s) for s in secs}
    out[DOC_KEYS_BLOCK] = table(secs[0], doc_keys=True)
    return out


def undescribed() -> list[str]:
    """`Model.field` for every field without a description: the reference needs one."""
    return sorted(f"{m.__name__}.{name}" for m in model_classes().values()
                  for name, field in m.model_fields.items()
                  if not (field.description and field.description.strip()))


def _wrap(name: str, body: str) -> str:
    return (f"<!-- BEGIN GENERATED reference:{name} -->\n{body}"
            f"<!-- END GENERATED reference:{name} -->")


def refresh(text: str) -> str:
    """The document with every generated block rewritten; models with no block yet are
    appended at the end, under a heading that asks for prose."""
    want = blocks()
    present = {m.group("name") for m in _BLOCK.finditer(text)}
    text = _BLOCK.sub(lambda m: _wrap(m.group("name"), want.get(m.group("name"),
                                                                   m.group("body"))), text)
    missing = [n for n in want if n not in present]
    if missing:
        text = text.rstrip("\n") + "\n\n## Not yet described\n\n" + "\n\n".join(
            _wrap(n, want[n]) for n in missing) + "\n"
    return text


def problems(text: str) -> list[str]:
    """Why the document is not current (empty when it is)."""
    out = [f"{f}: no description (add Field(description=...))" for f in undescribed()]
    want = blocks()
    found = {m.group("name"): m.group("body") for m in _BLOCK.finditer(text)}
    for name, body in want.items():
        if name not in found:
            out.append(f"no generated block for {name}: run {COMMAND}")
        elif found[name] != body:
            out.append(f"the {name} table is stale: run {COMMAND}")
    out.extend(f"generated block {name} names no model" for name in found if name not in want)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m socialcredit.rulebook.reference",
                                     description="Print, refresh or check the rulebook "
                                                 "reference tables.")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, help="refresh the tables in this markdown file")
    group.add_argument("--check", type=Path, help="exit 1 if this file's tables are stale")
    args = parser.parse_args(argv)
    if args.write is not None:
        path: Path = args.write
        path.write_text(refresh(path.read_text(encoding="utf-8") if path.is_file() else ""),
                        encoding="utf-8")
        return 0
    if args.check is not None:
        found = problems(args.check.read_text(encoding="utf-8"))
        for p in found:
            print(f"{args.check}: {p}", file=sys.stderr)
        return 1 if found else 0
    for name, body in blocks().items():
        sys.stdout.write(_wrap(name, body) + "\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
