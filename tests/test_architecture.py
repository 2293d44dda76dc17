"""The shape of the house, enforced: which rooms may import which.

The service layer is the only composer: the ledger stores and reads and knows neither
the engines nor the log; domain rooms never reach up into the service or the faces;
the command line reaches the domain through the service (importing only data shapes
from elsewhere); and no module uses another module's private names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "socialcredit"


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[str, list[str], bool, int]]:
    """(imported module, imported names, only for type checking, line) of every import,
    at any depth (imports inside functions count)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                type_only.add(id(inner))
    here = module_name(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, [], id(node) in type_only, node.lineno
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = here.split(".")
                if path.name != "__init__.py":
                    base = base[:-1]
                base = base[: len(base) - node.level + 1]
                mod = ".".join([*base, mod] if mod else base)
            names = [a.name for a in node.names]
            yield mod, names, id(node) in type_only, node.lineno


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "migrations/versions" not in str(p))


def edges() -> Iterator[tuple[str, str, list[str], bool, int]]:
    for path in MODULES:
        for mod, names, type_only, line in imports(path):
            if mod == "socialcredit" or mod.startswith("socialcredit."):
                yield module_name(path), mod, names, type_only, line


def within(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def test_the_walk_finds_the_house() -> None:
    found = {src for src, *_ in edges()}
    assert {"socialcredit.ledger.store", "socialcredit.service.ingest",
            "socialcredit.cli.app"} <= found


def test_the_ledger_imports_neither_scoring_nor_the_log_nor_the_service() -> None:
    bad = [(src, dst, line) for src, dst, _, _, line in edges()
           if within(src, "socialcredit.ledger") and any(
               within(dst, room) for room in ("socialcredit.scoring", "socialcredit.transparency",
                                              "socialcredit.service", "socialcredit.cli",
                                              "socialcredit.decisions", "socialcredit.web"))]
    assert bad == []


@pytest.mark.parametrize("room", ["socialcredit.ledger", "socialcredit.scoring",
                                  "socialcredit.decisions", "socialcredit.dueprocess",
                                  "socialcredit.transparency",
                                  "socialcredit.rulebook", "socialcredit.lint",
                                  "socialcredit.identifiers", "socialcredit.migrations"])
def test_domain_rooms_never_reach_up_into_the_service_or_the_faces(room: str) -> None:
    bad = [(src, dst, line) for src, dst, _, _, line in edges()
           if within(src, room) and (within(dst, "socialcredit.service")
                                     or within(dst, "socialcredit.cli")
                                     or within(dst, "socialcredit.api")
                                     or within(dst, "socialcredit.web"))]
    assert bad == []


# What a command may import besides the service: parsing its inputs, printing its
# outputs (data shapes), and the tools that need no ledger (linter, codes, the lab).
CLI_MAY_IMPORT = ("socialcredit.service", "socialcredit.cli", "socialcredit.errors",
                  "socialcredit.timeutil", "socialcredit.rulebook", "socialcredit.lint",
                  "socialcredit.identifiers", "socialcredit.lab",
                  "socialcredit.ledger.readers", "socialcredit.scoring.standing",
                  "socialcredit.decisions.evaluate", "socialcredit.api", "socialcredit.web")

# What the HTTP API may import besides the service: parsing its inputs and the shapes
# the service hands back, like a command; and the web pages it mounts.
API_MAY_IMPORT = ("socialcredit.service", "socialcredit.api", "socialcredit.errors",
                  "socialcredit.timeutil", "socialcredit.rulebook", "socialcredit.principals",
                  "socialcredit.web")


def test_commands_reach_the_domain_through_the_service() -> None:
    bad = [(src, dst, line) for src, dst, names, type_only, line in edges()
           if within(src, "socialcredit.cli") and not type_only
           and dst != "socialcredit" and not any(within(dst, ok) for ok in CLI_MAY_IMPORT)]
    assert bad == []


def test_the_api_reaches_the_domain_through_the_service() -> None:
    found = [src for src, *_ in edges() if within(src, "socialcredit.api")]
    assert "socialcredit.api.routes" in found
    bad = [(src, dst, line) for src, dst, names, type_only, line in edges()
           if within(src, "socialcredit.api") and not type_only
           and dst != "socialcredit" and not any(within(dst, ok) for ok in API_MAY_IMPORT)]
    assert bad == []


# What the web pages may import besides the service: the API's helpers (token cache, rate
# limits, error statuses), the data shapes a page reads, and nothing that computes.
WEB_MAY_IMPORT = ("socialcredit.service", "socialcredit.web", "socialcredit.api",
                  "socialcredit.errors", "socialcredit.timeutil", "socialcredit.rulebook",
                  "socialcredit.principals")


def test_the_web_pages_reach_the_domain_through_the_service() -> None:
    found = [src for src, *_ in edges() if within(src, "socialcredit.web")]
    assert "socialcredit.web.portal" in found
    bad = [(src, dst, line) for src, dst, names, type_only, line in edges()
           if within(src, "socialcredit.web") and not type_only
           and dst != "socialcredit" and not any(within(dst, ok) for ok in WEB_MAY_IMPORT)]
    assert bad == []


def test_no_module_imports_another_modules_private_names() -> None:
    bad = [(src, dst, name, line) for src, dst, names, _, line in edges()
           for name in names if name.startswith("_") and not name.startswith("__")]
    assert bad == []
