"""The lab's commands on the real command line, and once as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import typer
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.lab.api import BANNER
from tests.conftest import ROOT
from tests.lab.test_lab_impact import V2, small_ledger

runner = CliRunner()


def _app() -> typer.Typer:
    return app


def test_lab_run_writes_a_report(tmp_path: Path) -> None:
    r = runner.invoke(_app(), ["lab", "run", "--rulebook", "judgment-defaulters", "--scenario",
                               "poverty-feedback", "--population", "600", "--months", "14",
                               "--seed", "2", "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["study_only"] is None and out["findings"]
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["run"] == {**data["run"], "population": 600, "months": 14, "seed": 2}
    html = (tmp_path / "index.html").read_text()
    assert "<svg" in html and "Findings" in html


def test_lab_run_refuses_and_studies(tmp_path: Path) -> None:
    args = ["lab", "run", "--rulebook", "media-reported", "--population", "200", "--months",
            "4", "--out", str(tmp_path)]
    r = runner.invoke(_app(), args)
    assert r.exit_code == 3
    assert "--study" in r.output
    r = runner.invoke(_app(), [*args, "--study"])
    assert r.exit_code == 0, r.output
    assert BANNER in r.output
    assert BANNER in (tmp_path / "index.html").read_text()


def test_lab_compare_side_by_side(tmp_path: Path) -> None:
    r = runner.invoke(_app(), ["lab", "compare", "rongcheng", "judgment-defaulters",
                               "--population", "400", "--months", "8", "--seeds", "2",
                               "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert list(data["rulebooks"]) == ["rongcheng", "judgment-defaulters"]
    assert data["run"]["seeds"] == [1, 2]
    row = next(m for m in data["metrics"] if m["metric"] == "listed share (end)")
    assert row["differences"]["judgment-defaulters"]["n"] == 2
    assert (tmp_path / "index.html").exists()
    r = runner.invoke(_app(), ["lab", "compare", "rongcheng", "sesame", "--population", "300",
                               "--months", "4", "--seeds", "1"])
    assert r.exit_code == 0, r.output
    assert "listed share" in r.output


def test_bad_scenario_is_a_clean_error(tmp_path: Path) -> None:
    bad = tmp_path / "s.yaml"
    bad.write_text("scenario: x\nbehaviours: [{id: a, records: [t], rate: -1}]\n")
    r = runner.invoke(_app(), ["lab", "run", "--rulebook", "rongcheng", "--scenario", str(bad),
                               "--out", str(tmp_path / "o")])
    assert r.exit_code == 1
    assert "s.yaml:2: behaviours.0.rate" in r.output or "behaviours[0].rate" in r.output


def test_diff_impact_command(tmp_path: Path) -> None:
    svc = small_ledger(tmp_path)
    url = svc.ledger.url
    svc.close()
    v2 = tmp_path / "v2.yaml"
    v2.write_text(V2)
    at = "2027-06-01T00:00:00Z"
    r = runner.invoke(_app(), ["diff-impact", "labtest", str(v2), "--db", url, "--at", at,
                               "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["tier"]["changed"] > 0 and d["at"] == at
    r = runner.invoke(_app(), ["diff-impact", "labtest", str(v2), "--db", url, "--at", at])
    assert r.exit_code == 0, r.output
    assert "change tier" in r.output and "low_score" in r.output


def test_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    p = subprocess.run([sys.executable, "-m", "socialcredit", "lab", "run",
                        "--rulebook", "judgment-defaulters", "--population", "300",
                        "--months", "6", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=env, check=False, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "blacklist" in p.stdout
    assert json.loads((tmp_path / "report.json").read_text())["run"]["population"] == 300
    p = subprocess.run([sys.executable, "-m", "socialcredit", "lab", "run",
                        "--rulebook", "media-reported", "--out", str(tmp_path / "x")],
                       capture_output=True, text=True, env=env, check=False, timeout=300)
    assert p.returncode == 3
    assert "refused" in p.stderr
