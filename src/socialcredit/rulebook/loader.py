"""YAML -> Rulebook, with errors that name the file, the line and the field.

PyYAML's composer keeps each node's start mark; we walk the node tree once to map
every path (("rules", 3, "points")) to its line, then translate pydantic's error
locations through that map.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from socialcredit.errors import RulebookError
from socialcredit.rulebook.limits import MAX_BYTES, check_counts, load_bounded
from socialcredit.rulebook.model import DOC_KEYS, Rulebook, nested_models

PathKey = tuple[str | int, ...]


def _line_map(node: yaml.Node | None, path: PathKey = (), out: dict[PathKey, int] | None = None
              ) -> dict[PathKey, int]:
    out = {} if out is None else out
    if node is None:
        return out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[(*path, key)] = key_node.start_mark.line + 1
            _line_map(value_node, (*path, key), out)
            out[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), out)
    return out


def line_of(lines: dict[PathKey, int], path: PathKey) -> int | None:
    """The line of the deepest known prefix of `path`."""
    p = tuple(path)
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get(())


def dotted(path: PathKey) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _path_from_message(msg: str) -> PathKey:
    """Model-level messages start with a path such as `rules[3].record:`; recover it."""
    head = msg.split(":", 1)[0].strip()
    path: list[str | int] = []
    for chunk in head.replace("]", "").split("."):
        name, *idx = chunk.split("[")
        if not name.replace("_", "").isalnum():
            return ()
        path.append(name)
        path.extend(int(i) for i in idx if i.isdigit())
    return tuple(path)


def model_at(loc: PathKey, root: type[BaseModel] = Rulebook) -> type[BaseModel] | None:
    """The model whose keys sit at `loc` (("rules", 0) -> Rule), or None."""
    model: type[BaseModel] = root
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        inner = nested_models(field.annotation) if field is not None else []
        if not inner:
            return None
        model = inner[0]
    return model




def _unknown_key(loc: PathKey, root: type[BaseModel] = Rulebook) -> str:
    """`rules[0]: unknown key 'point_per_unit' — did you mean 'points_per_unit'? (allowed:
    …)`: pydantic's "Extra inputs are not permitted" names neither the keys that would
    have been right nor the one the author most likely meant."""
    key, parent = str(loc[-1]), loc[:-1]
    where = dotted(parent) or "top level"
    model = model_at(parent, root)
    if model is None:
        return f"{where}: unknown key {key!r}"
    own = [k for k in model.model_fields if k not in DOC_KEYS]
    guess = difflib.get_close_matches(key, [*own, *DOC_KEYS], n=1, cutoff=0.6)
    hint = f" — did you mean {guess[0]!r}?" if guess else ""
    return (f"{where}: unknown key {key!r}{hint} (allowed: {', '.join(own)}; documentation "
            f"keys: {', '.join(DOC_KEYS)})")


def _message(err: ErrorDetails) -> str:
    """pydantic's message, with a did-you-mean for a misspelt choice (`kind: condcut`)."""
    msg = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if err["type"] == "literal_error" and isinstance(value, str):
        choices = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        guess = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
        if guess:
            msg += f" — did you mean {guess[0]!r}?"
    return msg


M = TypeVar("M", bound=BaseModel)


def parse_model(text: str, source: str, model: type[M], what: str, keys: str,
                code: str = "rulebook.invalid") -> M:
    """YAML text -> a validated model, within the bounds of rulebook/limits.py (size,
    aliases, nesting, numbers, counts), every error located by file and line.
    Rulebooks and catalogues share it, and with it every bound on their input."""
    try:
        data, node = load_bounded(text, source)
    except RulebookError as exc:
        if exc.code == code:
            raise
        raise RulebookError(exc.message, code=code, details=exc.details) from None
    if not isinstance(data, dict):
        raise RulebookError(f"{source}:1: a {what} is a YAML mapping ({keys}, ...)", code=code)
    lines = _line_map(node)
    check_counts(data, source, lambda path: line_of(lines, path))
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc: PathKey = tuple(err["loc"])
            if err["type"] == "extra_forbidden" and loc:
                problems.append(f"{source}:{line_of(lines, loc) or 1}: "
                                f"{_unknown_key(loc, model)}")
                continue
            msg = _message(err)
            if err["type"] == "value_error" and not loc:
                for part in msg.split("; "):
                    sub = _path_from_message(part)
                    problems.append(f"{source}:{line_of(lines, sub) or 1}: {part}")
                continue
            field = dotted(loc) or "(top level)"
            problems.append(f"{source}:{line_of(lines, loc) or 1}: {field}: {msg}")
        raise RulebookError(f"invalid {what}\n  " + "\n  ".join(problems),
                            code=code) from None
    obj.__dict__["_lines"] = lines
    obj.__dict__["_source"] = source
    obj.__dict__["_text"] = text
    return obj


def parse_rulebook(text: str, source: str = "<rulebook>") -> Rulebook:
    """A rulebook from YAML text, within the input bounds, every error naming file and
    line."""
    return parse_model(text, source, Rulebook, "rulebook", "rulebook:, version:")


def load_rulebook(path: str | Path) -> Rulebook:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:  # refused before it is read
            raise RulebookError(f"{p}: {size:,} bytes; a rulebook may have at most "
                                f"{MAX_BYTES:,}")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulebookError(f"{p}: no such rulebook file", code="not_found") from None
    except UnicodeDecodeError as exc:
        raise RulebookError(f"{p}: not UTF-8 text ({exc.reason})") from None
    return parse_rulebook(text, str(p))


def source_line(rb: BaseModel, path: PathKey) -> int | None:
    lines = rb.__dict__.get("_lines")
    return line_of(lines, path) if lines else None


def source_name(rb: BaseModel) -> str:
    return str(rb.__dict__.get("_source", "<rulebook>"))


def source_text(rb: BaseModel) -> str | None:
    text = rb.__dict__.get("_text")
    return str(text) if text is not None else None


def yaml_line_map(text: str) -> dict[PathKey, int]:
    """Every path of a YAML document (("behaviours", 2, "rate")) -> its 1-based line, so
    other YAML formats (the policy lab's scenarios) can locate their errors the way
    rulebook errors are located. Raises yaml.YAMLError on text that is not YAML."""
    return _line_map(yaml.compose(text, Loader=yaml.SafeLoader))
