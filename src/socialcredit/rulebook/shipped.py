"""The rulebooks shipped with the package, by name, or any rulebook file.

One resolver for every command that takes `NAME|FILE` (synth, the demo, `rulebook
show`), so that `rongcheng` means the same file everywhere. It lives beside the loader
rather than in `synth` so that reading a rulebook does not import the columnar stack.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from socialcredit.errors import SocialCreditError
from socialcredit.rulebook.loader import load_rulebook, parse_rulebook
from socialcredit.rulebook.model import Rulebook


def shipped_rulebooks() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in
                  resources.files("socialcredit.rulebooks").iterdir()
                  if p.name.endswith(".yaml"))


def resolve_rulebook(program: str | Path) -> Rulebook:
    """A shipped rulebook by name (`rongcheng`) or a YAML file path."""
    p = Path(program)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return load_rulebook(p)
    res = resources.files("socialcredit.rulebooks").joinpath(f"{program}.yaml")
    if not res.is_file():
        raise SocialCreditError(f"no shipped rulebook {program!r} and no such file "
                                f"(shipped: {', '.join(shipped_rulebooks())})")
    return parse_rulebook(res.read_text(encoding="utf-8"), f"rulebooks/{program}.yaml")
