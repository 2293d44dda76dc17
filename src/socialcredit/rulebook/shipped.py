"""The rulebooks shipped with the package, found by name: one rule for every command.

A name is a path to a YAML file, or the name of a shipped rulebook (`rongcheng`,
`corporate.yaml`); a path that exists wins, so a local file can shadow a shipped one.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from socialcredit.errors import RulebookError
from socialcredit.rulebook.catalogue import Catalogue, load_catalogue, parse_catalogue
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


# -- catalogues ------------------------------------------------------------------------------

def shipped_catalogue_names() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in
                  resources.files("socialcredit.catalogues").iterdir()
                  if p.name.endswith(".yaml"))


def _catalogue_text(name: str) -> str | None:
    stem = name.removesuffix(".yaml")
    res = resources.files("socialcredit.catalogues").joinpath(f"{stem}.yaml")
    return res.read_text(encoding="utf-8") if res.is_file() else None


def load_catalogue_named(name: str | Path) -> Catalogue:
    """A catalogue from a file path or a shipped name (`cn-public-credit`)."""
    p = Path(name)
    if p.exists() or p.suffix in (".yml",) or (p.suffix == ".yaml" and len(p.parts) > 1):
        return load_catalogue(p)
    text = _catalogue_text(str(name))
    if text is None:
        raise RulebookError(f"{name}: no such catalogue file, nor a shipped catalogue "
                            f"(shipped: {', '.join(shipped_catalogue_names())})",
                            code="not_found")
    return parse_catalogue(text, f"catalogues/{str(name).removesuffix('.yaml')}.yaml")


def shipped_catalogue(catalogue: str, version: str) -> Catalogue | None:
    """The shipped catalogue with this id and version, if one ships."""
    text = _catalogue_text(catalogue)
    if text is None:
        return None
    cat = parse_catalogue(text, f"catalogues/{catalogue}.yaml")
    return cat if cat.version == version else None


__all__ = ["is_shipped", "load_catalogue_named", "load_named", "shipped_catalogue",
           "shipped_catalogue_names", "shipped_names"]
