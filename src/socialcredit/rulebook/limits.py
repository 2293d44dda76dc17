"""Bounds on rulebook input: size, YAML shape, numbers, and how much a rulebook declares.

A rulebook is untrusted input (anyone may hand one to `lint`, an operator may be handed
a hostile one to `publish`), and YAML can make a small file expensive: 10 KB of nested
aliases expand to gigabytes, `[` repeated 5,000 times recurses past Python's stack, a
5,000-digit integer trips Python's integer-parsing guard. The loader here refuses each
of these with the file and line, before any of them costs more than the file's size:

- aliases (`*name`, and so merge keys) are refused: a rulebook writes its values out;
- nesting deeper than MAX_DEPTH levels is refused (the deepest real rulebook uses 6);
- more than MAX_NODES YAML nodes is refused;
- integers with more than MAX_INT_DIGITS digits, any number written with more than
  MAX_NUMBER_CHARS characters, and non-finite numbers (`.inf`, `.nan`) are refused.

The counts in LIMITS bound what a rulebook may declare (rules, record types, …): they
sit far above the shipped rulebooks (the largest declares 64 consequences and 43
rules) and keep `init`, `publish` and every standing fast. docs/operations.md lists
them all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import yaml

from socialcredit.errors import RulebookError, located

MAX_BYTES = 256 * 1024  # the largest shipped rulebook has 12 KB; PyYAML reads ~100 KB/s
MAX_DEPTH = 32
MAX_NODES = 50_000
MAX_INT_DIGITS = 18
MAX_NUMBER_CHARS = 40

#: top-level list -> the most entries a rulebook may declare in it
LIMITS: dict[str, int] = {
    "dimensions": 100,
    "record_types": 1_000,
    "rules": 2_000,
    "attributes": 500,
    "tiers": 100,
    "lists": 200,
    "consequences": 2_000,
}
MAX_BINS = 200  # per attribute
MAX_PROVIDERS = 100  # per record type


def _error(source: str, mark: Any, message: str) -> RulebookError:
    line = mark.line + 1 if mark is not None else None
    where = f"{source}:{line}" if line is not None else source
    return RulebookError(f"{where}: {message}",
                         details=[located(message, file=source, line=line)])


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with aliases refused and depth, node count and numbers capped."""

    source = "<rulebook>"

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise _error(self.source, event.start_mark,
                         f"YAML aliases (*{event.anchor}) are not allowed in a rulebook: "
                         "write the value out")
        self.depth += 1
        self.nodes += 1
        if self.depth > MAX_DEPTH:
            raise _error(self.source, event.start_mark,
                         f"nested deeper than {MAX_DEPTH} levels (a rulebook needs about 6)")
        if self.nodes > MAX_NODES:
            raise _error(self.source, event.start_mark,
                         f"more than {MAX_NODES:,} YAML values; a rulebook has far fewer")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def _number_text(self, node: yaml.ScalarNode) -> str:
        value = str(node.value)
        if len(value) > MAX_NUMBER_CHARS:
            raise _error(self.source, node.start_mark,
                         f"a number written with {len(value):,} characters "
                         f"({value[:12]}…); numbers in a rulebook have at most "
                         f"{MAX_NUMBER_CHARS}")
        return value

    def construct_bounded_int(self, node: yaml.ScalarNode) -> int:
        value = self._number_text(node)
        digits = sum(c.isdigit() for c in value)
        if digits > MAX_INT_DIGITS:
            raise _error(self.source, node.start_mark,
                         f"the integer {value} has {digits} digits; integers in a rulebook "
                         f"have at most {MAX_INT_DIGITS}")
        return int(self.construct_yaml_int(node))

    def construct_bounded_float(self, node: yaml.ScalarNode) -> float:
        self._number_text(node)
        value = float(self.construct_yaml_float(node))
        if not math.isfinite(value):
            raise _error(self.source, node.start_mark,
                         f"{node.value} is not a finite number; leave a bound out instead")
        return value


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_bounded_int)
_BoundedLoader.add_constructor("tag:yaml.org,2002:float",
                               _BoundedLoader.construct_bounded_float)


_SCALAR_START = frozenset("[{,:-?")


def _flow_depth(text: str, source: str) -> None:
    """Refuse flow collections (`[`, `{`) nested deeper than MAX_DEPTH before PyYAML's
    scanner sees them: it keeps one pending key per open bracket and rescans them for
    every token, so `[` × 100,000 costs minutes before the composer could object.
    Quoted scalars are skipped (a `]` in a string closes nothing); a quote only opens
    one where a scalar can start, as in YAML."""
    depth = 0
    line = 1
    prev = "\n"  # the last character that was not a space
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
        elif ch in "\"'" and (prev in _SCALAR_START or prev == "\n"):
            j = i + 1
            while j < n:
                c = text[j]
                if c == "\n":
                    line += 1
                elif ch == '"' and c == "\\":
                    j += 1
                elif c == ch:
                    if ch == "'" and j + 1 < n and text[j + 1] == "'":
                        j += 1  # '' is a quote inside a single-quoted scalar
                    else:
                        break
                j += 1
            i, prev = j + 1, ch
            continue
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise RulebookError(f"{source}:{line}: nested deeper than {MAX_DEPTH} levels "
                                    "(a rulebook needs about 6)",
                                    details=[located("nested too deep", file=source,
                                                     line=line)])
        elif ch in "]}":
            depth = max(0, depth - 1)
        if ch not in " \t\r":
            prev = "\n" if ch == "\n" else ch
        i += 1


def load_bounded(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """(data, node tree) of a YAML document within the bounds above; RulebookError
    naming the file and line otherwise (and for YAML that does not parse)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise RulebookError(f"{source}: {size:,} bytes; a rulebook may have at most "
                            f"{MAX_BYTES:,}", details=[located("too large", file=source)])
    _flow_depth(text, source)
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # the reader refuses control characters here
        loader.source = source
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.reader.ReaderError as exc:  # no mark: the line from its position
        line = text[:exc.position].count("\n")
        raise _error(source, yaml.Mark(source, exc.position, line, 0, text, exc.position),
                     f"not valid YAML: {exc.reason} character #x{exc.character:04x}"
                     ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _error(source, mark, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def check_counts(data: Mapping[str, Any], source: str,
                 line_of: Any = None) -> None:
    """Refuse a rulebook that declares more than LIMITS allows, naming the list's line.
    `data` is the loaded YAML (or a model's dump); `line_of(path)` gives a line."""
    problems = []
    details = []

    def refuse(path: tuple[str | int, ...], what: str, n: int, limit: int) -> None:
        line = line_of(path) if line_of is not None else None
        where = f"{source}:{line}" if line is not None else source
        msg = f"{what}: {n:,} entries; a rulebook may have at most {limit:,}"
        problems.append(f"{where}: {msg}")
        details.append(located(msg, file=source, line=line))

    for key, limit in LIMITS.items():
        items = data.get(key)
        if isinstance(items, list | tuple) and len(items) > limit:
            refuse((key,), key, len(items), limit)
    for i, a in enumerate(data.get("attributes") or ()):
        bins = a.get("bins") if isinstance(a, Mapping) else None
        if isinstance(bins, list | tuple) and len(bins) > MAX_BINS:
            refuse(("attributes", i, "bins"), f"attributes[{i}].bins", len(bins), MAX_BINS)
    for i, t in enumerate(data.get("record_types") or ()):
        provs = t.get("providers") if isinstance(t, Mapping) else None
        if isinstance(provs, list | tuple) and len(provs) > MAX_PROVIDERS:
            refuse(("record_types", i, "providers"), f"record_types[{i}].providers",
                   len(provs), MAX_PROVIDERS)
    if problems:
        raise RulebookError("rulebook too complex\n  " + "\n  ".join(problems),
                            details=details)


__all__ = ["LIMITS", "MAX_BINS", "MAX_BYTES", "MAX_DEPTH", "MAX_INT_DIGITS", "MAX_NODES",
           "MAX_NUMBER_CHARS", "MAX_PROVIDERS", "check_counts", "load_bounded"]
