"""The rulebooks shipped with the package, found by name: one rule for every command.

A name is a path to a YAML file, or the name of a shipped rulebook (`rongcheng`,
`corporate.yaml`); a path that exists wins, so a local file can shadow a shipped one.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from socialcredit.errors import RulebookError
from socialcredit.rulebook.loader import load_rulebook, parse_rulebook
from socialcredit.rulebook.model import Rulebook


def shipped_names() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in
                  resources.files("socialcredit.rulebooks").iterdir()
                  if p.name.endswith(".yaml"))


def _shipped_text(name: str) -> str | None:
    stem = name.removesuffix(".yaml")
    res = resources.files("socialcredit.rulebooks").joinpath(f"{stem}.yaml")
    return res.read_text(encoding="utf-8") if res.is_file() else None


def is_shipped(name: str | Path) -> bool:
    return not Path(name).exists() and _shipped_text(str(name)) is not None


def load_named(name: str | Path) -> Rulebook:
    """A rulebook from a file path or a shipped name; the error lists the shipped names."""
    p = Path(name)
    if p.exists() or p.suffix in (".yml",) or (p.suffix == ".yaml" and len(p.parts) > 1):
        return load_rulebook(p)
    text = _shipped_text(str(name))
    if text is None:
        raise RulebookError(f"{name}: no such rulebook file, nor a shipped rulebook "
                            f"(shipped: {', '.join(shipped_names())})", code="not_found")
    return parse_rulebook(text, f"rulebooks/{str(name).removesuffix('.yaml')}.yaml")


__all__ = ["is_shipped", "load_named", "shipped_names"]
