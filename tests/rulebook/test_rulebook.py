"""Rulebooks: validation with located errors, canonical form, and the lines not crossed."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from socialcredit.errors import RefusedRulebook, RulebookError
from socialcredit.rulebook import (
    baseline_violations,
    enforce_baseline,
    load_rulebook,
    parse_rulebook,
)
from socialcredit.rulebook.baseline import (
    LINE_EVIDENCE,
    LINE_FOREVER,
    LINE_NOTICE,
    LINE_OTHERS,
    LINE_PROTECTED,
)
from tests.conftest import RULEBOOKS
from tests.helpers import BASE, base_rulebook


def test_base_loads_and_passes_the_baseline():
    rb = base_rulebook()
    enforce_baseline(rb)
    assert rb.rules[0].half_life == 100.0 and rb.rules[0].expires == 365.0


@pytest.mark.parametrize("name", ["rongcheng", "judgment-defaulters"])
def test_shipped_rulebooks_load_and_may_operate(name):
    rb = load_rulebook(RULEBOOKS / f"{name}.yaml")
    assert baseline_violations(rb) == []


def test_canonical_form_normalises_durations_and_layout():
    a = base_rulebook()
    b = base_rulebook(**{"expires: 1y": "expires: 365", "half_life: 100d": "half_life: 100"})
    c = parse_rulebook("# a comment\n" + BASE.replace("version: \"1\"", "version: 1"))
    assert a.sha256 == b.sha256 == c.sha256
    d = base_rulebook(**{"points: 30}": "points: 31}"})
    assert d.sha256 != a.sha256
    assert len(a.sha256) == 64 and '"rulebook":"test"' in a.canonical()


def test_rulebook_is_immutable():
    rb = base_rulebook()
    with pytest.raises(ValidationError, match="frozen"):
        rb.rules[0].points = 5  # type: ignore[misc]


def test_weeks_and_years():
    rb = base_rulebook(**{"expires: 1y": "expires: 2w"})
    assert rb.rules[0].expires == 14.0


@pytest.mark.parametrize(("change", "field", "message", "on_line"), [
    ({"points: -10, half_life": "pointz: -10, half_life"}, "rules[0]",
     "unknown key 'pointz' — did you mean 'points'?", "pointz: -10"),
    ({"dimension: money, points: -10": "dimension: nomoney, points: -10"}, "rules[0].dimension",
     "dimension 'nomoney' is not declared", "nomoney"),
    ({"{record: bonus, dimension: civic, points: 30}": "{record: bogus, dimension: civic, "
      "points: 30}"}, "rules[1].record", "record type 'bogus' is not declared", "bogus"),
    ({"expires: 1y": "expires: soon"}, "rules[0].expires", "not a duration", "expires: soon"),
    ({"kind: black": "kind: grey"}, "lists[0].kind", "Input should be", "kind: grey"),
    ({"{on_list: defaulters},\n": "{on_list: nolist},\n"}, "consequences[0].when.on_list",
     "list 'nolist' is not declared", "nolist"),
    ({"{id: A, min: 1000}": "{id: A, min: 900}"}, "tiers", "highest first", "tiers:"),
    ({"points: -10, half_life": "points: -10, points_per_unit: 1, half_life"}, "rules[0]",
     "exactly one of points", "points_per_unit: 1"),
])
def test_errors_name_file_line_and_field(change, field, message, on_line):
    text = BASE
    for old, new in change.items():
        text = text.replace(old, new)
    with pytest.raises(RulebookError) as exc:
        parse_rulebook(text, "base.yaml")
    got = str(exc.value)
    m = re.search(r"base\.yaml:(\d+): (\S+?):? ", got)
    assert m, got
    line, where = int(m.group(1)), m.group(2).rstrip(":")
    assert on_line in text.splitlines()[line - 1], (line, got)
    assert where == field and message in got, got


def test_yaml_syntax_error_has_a_line():
    with pytest.raises(RulebookError, match=r"x\.yaml:\d+: not valid YAML"):
        parse_rulebook("rulebook: x\nversion: 1\nscale: {base: [\n", "x.yaml")


def test_missing_file():
    with pytest.raises(RulebookError, match="no such rulebook file"):
        load_rulebook("/nonexistent/rb.yaml")


# -- the lines the system does not cross -----------------------------------------------

def refused(**change: str) -> list[str]:
    rb = base_rulebook(**change)
    with pytest.raises(RefusedRulebook) as exc:
        enforce_baseline(rb)
    return exc.value.violations


def test_refuses_scoring_a_protected_category():
    v = refused(**{"category: civic_merit,\n     context: civic, item: civic}\n  - {id: hours":
                   "category: religion,\n     context: civic, item: civic}\n  - {id: hours"})
    assert any(LINE_PROTECTED in x and "rules[1]" in x and "religion or belief" in x for x in v)


@pytest.mark.parametrize(("category", "name"), [
    ("political_opinion", "political opinion"), ("ethnicity", "ethnic"),
    ("assembly", "assembly or protest"), ("trade_union", "trade-union"),
    ("health", "health"), ("sexual_orientation", "sex life"), ("gender", "sex or gender"),
    ("marital_status", "family or marital"), ("biometric", "biometric"),
    ("national_origin", "national origin"),
])
def test_every_protected_category(category, name):
    v = refused(**{"category: credit_history": f"category: {category}"})
    assert any(LINE_PROTECTED in x and "attributes[0]" in x and name in x for x in v), v


def test_undeclared_category_is_judged_by_id_and_label():
    text = BASE.replace("{id: bonus, kind: conduct, providers: [bank], evidence: optional, "
                        "category: civic_merit,\n     context: civic, item: civic}",
                        "{id: bonus, kind: conduct, providers: [bank], label: Attended a "
                        "protest rally}")
    with pytest.raises(RefusedRulebook, match="assembly or protest"):
        enforce_baseline(parse_rulebook(text))


def test_refuses_counting_records_against_relatives():
    v = refused(**{"{record: bonus, dimension: civic, points: 30}":
                   "{record: bonus, dimension: civic, points: 30, applies_to: relatives}"})
    assert any(LINE_OTHERS in x and "relatives" in x for x in v)
    v = refused(**{"{action: train, context: transport, effect: deny,":
                   "{action: train, context: transport, effect: deny, applies_to: children,"})
    assert any(LINE_OTHERS in x and "consequences[0]" in x for x in v)
    v = refused(**{"category: credit_history": "category: personal_connections"})
    assert any(LINE_OTHERS in x for x in v)


def test_refuses_negative_points_that_never_expire():
    v = refused(**{"half_life: 100d, expires: 1y,": "half_life: 100d,"})
    assert any(LINE_FOREVER in x and "rules[0]" in x and "never" in x for x in v)


def test_refuses_blacklist_without_notice_or_end():
    v = refused(**{"    notice: 10d\n": ""})
    assert any(LINE_NOTICE in x and "lists[0]" in x for x in v)
    v = refused(**{"    max_duration: 100d\n": ""})
    assert any(LINE_FOREVER in x and "max_duration" in x for x in v)


def test_red_lists_need_no_notice():
    rb = base_rulebook(**{"kind: black": "kind: red", "    notice: 10d\n": "",
                          "    max_duration: 100d\n": ""})
    assert baseline_violations(rb) == []


def test_refuses_negative_records_without_evidence_or_legal_basis():
    v = refused(**{"{id: arrears, kind: conduct, providers: [bank], evidence: required, "
                   "legal_basis: law,": "{id: arrears, kind: conduct, providers: [bank],"})
    assert any(LINE_EVIDENCE in x and "evidence" in x for x in v)
    assert any(LINE_EVIDENCE in x and "legal_basis" in x for x in v)


def test_refusal_message_names_line_rule_and_source_line():
    rb = base_rulebook(**{"half_life: 100d, expires: 1y,": "half_life: 100d,"})
    with pytest.raises(RefusedRulebook) as exc:
        enforce_baseline(rb)
    m = re.search(r"base\.yaml:(\d+): rules\[0\]: \[redemption", str(exc.value))
    assert m, str(exc.value)
    assert "record: arrears" in BASE.replace("half_life: 100d, expires: 1y,",
                                             "half_life: 100d,").splitlines()[int(m.group(1)) - 1]


def test_void_types_belong_to_reviewers():
    with pytest.raises(RulebookError, match="only reviewers may submit voids"):
        base_rulebook(**{"{id: void, kind: void, providers: [reviewer]":
                         "{id: void, kind: void, providers: [bank]"})
