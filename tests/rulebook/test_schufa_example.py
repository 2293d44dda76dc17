"""docs/rulebooks/schufa.md: the worked example runs as written, and its numbers are what
the commands print."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.docblocks import block_after, run_shell

PAGE = ROOT / "docs" / "rulebooks" / "schufa.md"


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_worked_example(tmp_path: Path) -> None:
    text = PAGE.read_text(encoding="utf-8")
    p = run_shell(block_after(text, "## Worked example"), tmp_path)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert "Key factors: Bankruptcy filing (public record)" in p.stdout

    now = load(tmp_path / "breakdown.json")
    points = {a["record"]: (a["value"], a["points"]) for a in now["attributes"]}
    assert points == {
        "fact.credit.pct_never_late": (97.0, 150.0),
        "fact.credit.months_since_delinquency": (30.0, 22.0),
        "fact.credit.utilization_pct": (45.0, 90.0),
        "fact.credit.oldest_account_months": (100.0, 70.0),
        "fact.credit.account_types": (2.0, 35.0),
        "fact.credit.inquiries_12m": (3.0, 20.0),
    }
    [bankruptcy] = now["contributions"]
    assert bankruptcy["resolved"] is True and bankruptcy["points"] == -100.0
    assert bankruptcy["contribution"] == pytest.approx(-60.2, abs=0.1)
    assert [k["record_id"] for k in now["key_factors"]] == ["bureau-01:7"]
    # recompute it: base + the dimensions, as the page does
    assert now["score"] == pytest.approx(300 + sum(now["dimensions"].values()))
    assert now["dimensions"]["payment_history"] == pytest.approx(150 + 22 - 60.2, abs=0.1)
    assert round(now["score"]) == 627 and now["tier"] == "fair"
    assert now["rulebook"]["id"] == "fico-like" and len(now["rulebook"]["sha256"]) == 64

    what_if = load(tmp_path / "what-if.json")
    assert what_if["score"] == pytest.approx(now["score"] + 75, abs=0.01)
    assert round(what_if["score"]) == 702 and what_if["tier"] == "good"

    later = load(tmp_path / "in-a-year.json")
    assert later["projection"] is True
    [still] = later["contributions"]
    assert round(still["contribution"]) == -48
    assert all(a["record_id"] is None for a in later["attributes"])  # snapshots lapsed

    for figure in ("about −60", "≈ **627**", "about **702**", "about −48"):
        assert figure in text
