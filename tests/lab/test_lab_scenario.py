"""Scenarios: the shipped ones load, errors are located, every parameter is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from socialcredit.lab import scenario as scn
from socialcredit.lab.scenario import ScenarioError, load_scenario, parse_scenario
from tests.conftest import ROOT

SHIPPED = scn.shipped_scenarios()


def test_the_four_mechanisms_ship() -> None:
    assert {"baseline", "poverty-feedback", "predictive-policing",
            "errors-and-objections"} <= set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenarios_load(name: str) -> None:
    sc = load_scenario(name)
    assert sc.scenario == name
    assert sc.behaviours


def test_each_shipped_scenario_exercises_its_mechanism() -> None:
    assert not load_scenario("baseline").has_feedback()
    pov = load_scenario("poverty-feedback")
    assert any(f.propensity for f in pov.feedback) and any(f.means_down for f in pov.feedback)
    pol = load_scenario("predictive-policing")
    assert pol.detection.patrols is not None and pol.detection.patrols.follow > 0
    err = load_scenario("errors-and-objections")
    assert err.errors.rate > 0 and err.objections.share > 0


def test_errors_name_file_line_and_field() -> None:
    text = """scenario: x
behaviours:
  - id: a
    records: [t]
    rate: 0.1
    by_distrcit: {north: 2}
"""
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text, "bad.yaml")
    assert "bad.yaml:6: behaviours[0].by_distrcit" in str(e.value)


def test_cross_references_are_checked_with_their_line() -> None:
    text = """scenario: x
groups:
  - {id: a, share: 0.5}
  - {id: b, share: 0.4}
behaviours:
  - {id: a, records: [t], rate: 0.1, by_group: {c: 2}}
actions: []
feedback:
  - when: {action: loan}
    propensity: {a: 2}
"""
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text, "bad.yaml")
    msg = str(e.value)
    assert "bad.yaml:2: groups: group shares must add up to 1 (they add up to 0.9)" in msg
    assert "bad.yaml:6: behaviours[0].by_group.c: no group 'c'" in msg
    assert "bad.yaml:9: feedback[0].when.action: action 'loan' is not in `actions`" in msg


def test_unknown_shipped_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ScenarioError, match="baseline"):
        load_scenario("no-such-scenario")


def _fields(model: type[BaseModel], seen: set[str]) -> None:
    for name, f in model.model_fields.items():
        seen.add(name)
        for arg in getattr(f.annotation, "__args__", ()) or (f.annotation,):
            inner = getattr(arg, "__args__", None)
            for cand in (arg, *(inner or ())):
                if isinstance(cand, type) and issubclass(cand, BaseModel):
                    _fields(cand, seen)


def test_docs_explain_every_scenario_parameter() -> None:
    names: set[str] = set()
    _fields(scn.Scenario, names)
    doc = (ROOT / "docs" / "lab.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+)`", doc))
    missing = sorted(names - documented)
    assert not missing, f"docs/lab.md does not explain: {missing}"
    assert len(names) > 40  # the walk really reached the nested models


def test_overrides_are_validated() -> None:
    sc = load_scenario("baseline")
    assert sc.with_overrides(population=123, months=None).population == 123
    with pytest.raises(ValueError):
        sc.with_overrides(population=0)


def test_a_scenario_file_path_loads(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text("scenario: mine\nbehaviours: [{id: a, records: [t], rate: 0.5}]\n")
    assert load_scenario(p).scenario == "mine"
