"""The refusal line: a rulebook the engine refuses is refused by the lab unless
--study, and then every page and JSON document of the report says that the engine will
not operate it, with the violations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from socialcredit.errors import RefusedRulebook
from socialcredit.lab.api import BANNER, compare, run
from socialcredit.rulebook import baseline_violations
from socialcredit.rulebook.shipped import load_named

SMALL = {"population": 300, "months": 6}


def test_refused_without_study() -> None:
    with pytest.raises(RefusedRulebook) as e:
        run("media-reported", "baseline", **SMALL)
    assert "notice before any sanction" in str(e.value)
    with pytest.raises(RefusedRulebook):
        compare(["rongcheng", "media-reported"], "baseline", seeds=1, **SMALL)


def _pages(out: Path) -> list[Path]:
    return sorted(out.glob("*.html"))


def test_study_run_carries_the_banner_everywhere(tmp_path: Path) -> None:
    res = run("media-reported", "baseline", study=True, **SMALL)
    banner = res.data["study_only"]
    assert banner["banner"] == BANNER
    assert len(banner["violations"]) == len(
        baseline_violations(load_named("media-reported"))) > 10
    assert any("media-reported.yaml:" in v for v in banner["violations"])
    assert res.data["findings"][0].startswith("Study only: the engine will not operate")
    res.write(tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["study_only"]["banner"] == BANNER
    pages = _pages(tmp_path)
    assert pages
    for page in pages:
        html = page.read_text()
        assert html.count(BANNER) >= 2  # top and bottom of the page
        assert "STUDY ONLY" in html.split("</title>")[0]
        assert "no notice period" in html


def test_operable_rulebooks_carry_no_banner(tmp_path: Path) -> None:
    res = run("rongcheng", "baseline", study=True, **SMALL)
    assert res.data["study_only"] is None
    res.write(tmp_path)
    assert BANNER not in (tmp_path / "index.html").read_text()


def test_study_compare_carries_the_banner(tmp_path: Path) -> None:
    res = compare(["rongcheng", "media-reported"], "baseline", seeds=2, study=True, **SMALL)
    assert set(res.data["study_only"]) == {"media-reported"}
    assert any(f.startswith("Study only") for f in res.data["findings"])
    res.write(tmp_path)
    assert json.loads((tmp_path / "report.json").read_text())["study_only"]
    for page in _pages(tmp_path):
        assert page.read_text().count(BANNER) >= 2
