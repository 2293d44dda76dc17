"""Same seed, same report numbers; another seed, other numbers."""

from __future__ import annotations

import json

from socialcredit.lab.api import run
from tests.lab.labkit import rulebook, scenario


def test_same_seed_same_report() -> None:
    sc = scenario(population=800, months=18)
    a = run(rulebook(), sc, seed=5).data
    b = run(rulebook(), sc, seed=5).data
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    c = run(rulebook(), sc, seed=6).data
    assert json.dumps(a["summary"], sort_keys=True) != json.dumps(c["summary"], sort_keys=True)


def test_the_society_does_not_depend_on_the_rulebook() -> None:
    from socialcredit.lab.society import make_society

    sc = scenario(population=500)
    s1, s2 = make_society(sc, 500, 3), make_society(sc, 500, 3)
    for f in ("group", "district", "means", "propensity"):
        assert (getattr(s1, f) == getattr(s2, f)).all()
    assert not (make_society(sc, 500, 4).propensity == s1.propensity).all()


def test_report_json_is_strict_json(tmp_path: object) -> None:
    from pathlib import Path

    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} in report.json")

    res = run(rulebook(), scenario(population=300, months=6), seed=1)
    out = Path(str(tmp_path))
    res.write(out)
    data = json.loads((out / "report.json").read_text(), parse_constant=no_constants)
    assert data["summary"]["listed"]["final_count"] >= 0
