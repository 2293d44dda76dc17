"""Fenced blocks of the documentation, and a way to run a shell block as a user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

_FENCE = re.compile(r"^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```", re.M | re.S)


def fenced(text: str, lang: str) -> list[str]:
    """The bodies of every ```lang block, in order."""
    return [m.group("body") for m in _FENCE.finditer(text) if m.group("lang") == lang]


def block_after(text: str, heading: str, lang: str = "sh") -> str:
    """The first ```lang block after `heading`."""
    assert heading in text, heading
    return fenced(text.split(heading, 1)[1], lang)[0]


def run_shell(script: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run a documented shell block with `set -euo pipefail`, the package's own Python
    and CLI first on PATH, in a fresh directory where `rulebooks/` is the shipped set."""
    if not (cwd / "rulebooks").exists():
        (cwd / "rulebooks").symlink_to(ROOT / "rulebooks")
    path = cwd / "block.sh"
    path.write_text("set -euo pipefail\n" + script, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "SOCIALCREDIT_DB"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return subprocess.run(["bash", str(path)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def json_objects(text: str) -> list[dict[str, object]]:
    """Every top-level JSON object printed in `text` (outputs of `--json` commands)."""
    import json

    decoder = json.JSONDecoder()
    out: list[dict[str, object]] = []
    for m in re.finditer(r"^\{$", text, re.M):
        obj, _ = decoder.raw_decode(text, m.start())
        out.append(obj)
    return out
