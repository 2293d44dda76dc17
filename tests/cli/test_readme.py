"""The README's tour runs as written, in a fresh directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_readme_tour_runs(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## A ten-minute tour of the CLI", 1)[1].split("```sh", 1)[1]
    block = block.split("```", 1)[0]
    (tmp_path / "rulebooks").symlink_to(ROOT / "rulebooks")
    script = tmp_path / "tour.sh"
    script.write_text("set -euo pipefail\n" + block, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "SOCIALCREDIT_DB"}
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    p = subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "BENEFIT rental.bike for alice" in p.stdout
    assert '"effect": "allow"' in p.stdout  # bob is inside his notice window
    assert "log verified" in p.stdout
    assert "not suspended: a court ordered it" in p.stdout
    assert "court-01:1" in (tmp_path / "bob-file.json").read_text(encoding="utf-8")
    assert (tmp_path / "socialcredit.db").exists() and (tmp_path / "pop.csv").exists()
