"""The linter: every rule has a rulebook that trips it and one that does not.

The clean rulebook below is the control: it lints with information only under every
profile, so each variant shows that one change — and nothing else — produces the finding.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.lint import PROFILES, LintReport, UnknownProfile, lint
from socialcredit.rulebook import parse_rulebook
from socialcredit.rulebook.baseline import baseline_violations
from socialcredit.rulebook.catalogue import parse_catalogue

CLEAN = """\
rulebook: lintbase
version: "1"
subjects: [person]
catalogue: {id: lint-test, version: "1"}
scale: {base: 100, min: 0, max: 200}
dimensions:
  - {id: money}
record_types:
  - {id: pay.late, kind: conduct, label: Late payment, item: payments,
     category: financial_obligation,
     context: finance, providers: [bank], evidence: required, severity: general,
     legal_basis: contract}
  - {id: pay.settled, kind: resolution, label: Settled, item: payments,
     category: financial_obligation,
     context: finance, providers: [bank], evidence: required}
  - {id: fact.tenure, kind: fact, label: Months as a customer, item: payments,
     category: credit_history,
     context: finance, providers: [bank]}
  - {id: review.void, kind: void, label: Withdrawn after review, item: review,
     context: review, providers: [reviewer], evidence: required}
rules:
  - {record: pay.late, dimension: money, points: -10, expires: 1y, resolved_points: -2}
attributes:
  - {record: fact.tenure, dimension: money, bins: [{below: 12, points: 0}, {points: 5}],
     expires: 1y}
tiers:
  - {id: good, min: 90}
  - {id: low, min: 0}
lists:
  - {id: defaulters, kind: black, enter_when: {record: pay.late}, notice: 10d,
     max_duration: 1y, legal_basis: contract}
due_process:
  repair:
    periods: [{severity: general, after: 90d, conditions: [obligation_performed]}]
consequences:
  - {action: loan, context: finance, effect: deny, measure: refuse, when: {on_list: defaulters}}
"""

# The allowlist CLEAN cites (a rulebook that cites none is refused: BASE-CATALOGUE).
CATALOGUE = """\
catalogue: lint-test
version: "1"
items:
  - {id: payments, providers: [bank], publicity: public, legal_basis: contract}
  - {id: review, providers: [reviewer], legal_basis: contract}
measures:
  - {id: refuse, kind: sanction, legal_basis: contract}
  - {id: reward, kind: benefit, legal_basis: contract}
"""
CAT = parse_catalogue(CATALOGUE, "lint-test.yaml")


VOID_TYPE = """  - {id: review.void, kind: void, label: Withdrawn after review, item: review,
     context: review, providers: [reviewer], evidence: required}
"""


def run(text: str, profiles: list[str] | None = None) -> LintReport:
    return lint(parse_rulebook(text, "t.yaml"), profiles, CAT)


def codes(text: str, profile: str | None = None) -> set[str]:
    rep = run(text, None if profile is None else [profile])
    return rep.codes(profile)


def sub(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# -- the control ------------------------------------------------------------------------

def test_clean_rulebook_has_information_only() -> None:
    rep = run(CLEAN)
    assert rep.operable
    assert [f for f in rep.findings if f.severity != "info"] == []
    assert rep.exit_code == 0
    assert rep.codes() == {"AIA-HIGH-RISK"}  # credit decisions are high-risk, not banned


def test_every_finding_is_located_and_cites_a_provision() -> None:
    text = sub(CLEAN, "context: finance, effect: deny", "context: transport, effect: deny")
    rb = parse_rulebook(text, "t.yaml")
    rep = lint(rb, None, CAT)
    f = next(f for f in rep.findings if f.code == "AIA-5-1-C-I")
    assert f.path == "consequences[0]"
    assert f.line == text.splitlines().index(
        "  - {action: loan, context: transport, effect: deny, measure: refuse, "
        "when: {on_list: defaulters}}") + 1
    assert "Art. 5(1)(c)(i)" in f.provision and "pay.late" in f.message
    assert f.severity == "error" and f.profile == "eu-ai-act"


# -- baseline ---------------------------------------------------------------------------

@pytest.mark.parametrize(("old", "new", "code"), [
    ("category: financial_obligation,\n     context: finance, providers: [bank], evidence: "
     "required, severity",
     "category: health,\n     context: finance, providers: [bank], evidence: required, severity",
     "BASE-PROTECTED"),
    ("resolved_points: -2}", "resolved_points: -2, applies_to: relatives}", "BASE-OTHERS"),
    ("points: -10, expires: 1y,", "points: -10,", "BASE-FOREVER"),
    ("notice: 10d,", "notice: 0d,", "BASE-NOTICE"),
    ("evidence: required, severity: general,\n     legal_basis: contract}",
     "evidence: required, severity: general}", "BASE-EVIDENCE"),
])
def test_baseline_findings_block_operation(old: str, new: str, code: str) -> None:
    rep = run(sub(CLEAN, old, new), [])
    assert code in rep.codes("baseline")
    assert not rep.operable and rep.exit_code == 3  # refused, whatever else is found
    assert all(f.severity == "error" for f in rep.by_profile("baseline"))


def test_baseline_always_runs_even_when_not_named() -> None:
    text = sub(CLEAN, "notice: 10d,", "notice: 0d,")
    assert run(text, ["fcra"]).profiles == ["baseline", "fcra"]
    assert "BASE-NOTICE" in run(text, ["fcra"]).codes()
    assert run(CLEAN, ["baseline"]).findings == []


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(UnknownProfile):
        run(CLEAN, ["ccpa"])


# -- eu-ai-act --------------------------------------------------------------------------

def test_aia_unrelated_context() -> None:
    bad = sub(CLEAN, "context: finance, effect: deny", "context: transport, effect: deny")
    assert "AIA-5-1-C-I" in codes(bad, "eu-ai-act")
    assert run(bad).exit_code == 2
    # same sphere under another name is related (documented group)
    ok = sub(CLEAN, "context: finance, effect: deny", "context: credit, effect: deny")
    assert "AIA-5-1-C-I" not in codes(ok, "eu-ai-act")


def test_aia_benefit_from_unrelated_data_is_a_warning() -> None:
    extra = ("\n  - {action: bike, context: commerce, effect: benefit, grant: {free: true},"
             " measure: reward, when: {tier_at_least: good}}\n")
    bad = CLEAN + extra.lstrip("\n")
    rep = run(bad, ["eu-ai-act"])
    assert "AIA-5-1-C-I-BENEFIT" in rep.codes()
    assert rep.exit_code == 0 and rep.exit_code_failing_on("warning") == 2
    ok = CLEAN + extra.lstrip("\n").replace("commerce", "finance")
    assert "AIA-5-1-C-I-BENEFIT" not in codes(ok, "eu-ai-act")


def test_aia_minor_record_alone_denies() -> None:
    bad = sub(CLEAN, "severity: general", "severity: minor")
    assert "AIA-5-1-C-II" in codes(bad, "eu-ai-act")
    serious = sub(CLEAN, "severity: general", "severity: serious")
    assert "AIA-5-1-C-II" not in codes(serious, "eu-ai-act")
    assert "AIA-5-1-C-II" not in codes(CLEAN, "eu-ai-act")


def test_aia_undeclared_gravity_and_context() -> None:
    no_sev = sub(CLEAN, " severity: general,\n", "\n")
    assert "AIA-GRAVITY-UNDECLARED" in codes(no_sev, "eu-ai-act")
    no_ctx = sub(CLEAN, "{action: loan, context: finance, effect", "{action: loan, effect")
    assert "AIA-CONTEXT-UNDECLARED" in codes(no_ctx, "eu-ai-act")
    assert not {"AIA-GRAVITY-UNDECLARED", "AIA-CONTEXT-UNDECLARED"} & codes(CLEAN, "eu-ai-act")


JOINT = """
  - {action: train, context: transport, effect: deny, measure: refuse,
     when: {on_list: defaulters}}
  - {action: hotel, context: hospitality, effect: deny, measure: refuse,
     when: {on_list: defaulters}}
"""


def test_aia_joint_sanction_across_contexts() -> None:
    bad = CLEAN + JOINT.lstrip("\n")
    rep = run(bad, ["eu-ai-act"])
    joint = [f for f in rep.findings if f.code == "AIA-5-1-C-II-JOINT"]
    assert [f.severity for f in joint] == ["error"]
    assert "3 contexts" in joint[0].message
    serious = sub(bad, "severity: general", "severity: serious")
    joint = [f for f in run(serious, ["eu-ai-act"]).findings if f.code == "AIA-5-1-C-II-JOINT"]
    assert [f.severity for f in joint] == ["info"]
    two = CLEAN + "".join(JOINT.lstrip("\n").splitlines(keepends=True)[:2])
    assert "AIA-5-1-C-II-JOINT" not in codes(two, "eu-ai-act")


def test_aia_minor_records_accumulating_to_a_deny() -> None:
    score_deny = sub(CLEAN, "when: {on_list: defaulters}}", "when: {score_below: 50}}")
    bad = sub(score_deny, "severity: general", "severity: minor")
    bad = sub(bad, "expires: 1y, resolved_points", "expires: 90d, resolved_points")
    assert "AIA-5-1-C-II-ACCUMULATION" in codes(bad, "eu-ai-act")
    capped = sub(bad, "expires: 90d, resolved_points", "expires: 90d, max_count: 3, "
                 "resolved_points")
    assert "AIA-5-1-C-II-ACCUMULATION" not in codes(capped, "eu-ai-act")


def test_aia_organizations_only_are_information() -> None:
    bad = sub(CLEAN, "context: finance, effect: deny", "context: transport, effect: deny")
    org = sub(bad, "subjects: [person]", "subjects: [organization]")
    rep = run(org, ["eu-ai-act"])
    assert {"AIA-SCOPE", "AIA-5-1-C-I"} <= rep.codes()
    assert {f.severity for f in rep.findings} == {"info"}


# -- gdpr -------------------------------------------------------------------------------

HEALTH_TYPE = """  - {id: health.visit, kind: conduct, label: Clinic visit, category: health,
     context: healthcare, providers: [clinic]}
"""


def test_gdpr_special_category_used_and_declared() -> None:
    declared = sub(CLEAN, "rules:\n", HEALTH_TYPE + "rules:\n")
    rep = run(declared, ["gdpr"])
    assert "GDPR-9-DECLARED" in rep.codes() and "GDPR-9" not in rep.codes()
    # declaring is not scoring, but the lexicon refuses recording it at all
    assert "BASE-PROTECTED" in rep.codes() and not rep.operable
    used = sub(declared, "attributes:\n", "  - {record: health.visit, dimension: money, "
               "points: 1, expires: 1y}\nattributes:\n")
    rep = run(used, ["gdpr"])
    assert "GDPR-9" in rep.codes() and not rep.operable
    assert not {"GDPR-9", "GDPR-9-DECLARED"} & codes(CLEAN, "gdpr")


def test_gdpr_special_category_via_attribute_category() -> None:
    text = sub(CLEAN, "bins: [{below: 12, points: 0}, {points: 5}],",
               "category: religion, bins: [{below: 12, points: 0}, {points: 5}],")
    assert "GDPR-9" in codes(text, "gdpr")


def test_gdpr_automated_deny_needs_a_review_path() -> None:
    no_void = sub(CLEAN, VOID_TYPE, "")
    assert "GDPR-22" in codes(no_void, "gdpr")
    assert "GDPR-22" not in codes(CLEAN, "gdpr")
    no_deny = sub(no_void, "effect: deny, measure: refuse, when: {on_list: defaulters}",
                  "effect: benefit, grant: {x: 1}, measure: reward, "
                  "when: {tier_at_least: good}")
    assert "GDPR-22" not in codes(no_deny, "gdpr")


def test_gdpr_retention() -> None:
    no_attr_expiry = sub(CLEAN, "{points: 5}],\n     expires: 1y}", "{points: 5}]}")
    assert "GDPR-5-1-E" in codes(no_attr_expiry, "gdpr")
    positive = sub(CLEAN, "attributes:\n", "  - {record: pay.settled_bonus, dimension: money, "
                   "points: 1}\nattributes:\n")
    positive = sub(positive, "rules:\n", "  - {id: pay.settled_bonus, kind: conduct, label: B, "
                   "context: finance, providers: [bank]}\nrules:\n")
    rep = run(positive, ["gdpr"])
    assert [f.path for f in rep.findings if f.code == "GDPR-5-1-E"] == ["rules[1]"]
    assert "GDPR-5-1-E" not in codes(CLEAN, "gdpr")


def test_gdpr_offence_data_is_noted() -> None:
    text = sub(CLEAN, "category: financial_obligation,\n     context: finance, providers: [bank], "
               "evidence: required, severity",
               "category: financial_crime,\n     context: finance, providers: [bank], "
               "evidence: required, severity")
    assert "GDPR-10" in codes(text, "gdpr")
    assert "GDPR-10" not in codes(CLEAN, "gdpr")


def test_gdpr_does_not_apply_to_organizations() -> None:
    org = sub(CLEAN, "subjects: [person]", "subjects: [organization]")
    assert codes(org, "gdpr") == {"GDPR-SCOPE"}


# -- fcra -------------------------------------------------------------------------------

def test_fcra_seven_year_reporting_period() -> None:
    bad = sub(CLEAN, "points: -10, expires: 1y", "points: -10, expires: 8y")
    assert "FCRA-605-A-5" in codes(bad, "fcra")
    ok = sub(CLEAN, "points: -10, expires: 1y", "points: -10, expires: 7y")
    assert "FCRA-605-A-5" not in codes(ok, "fcra")
    long_list = sub(CLEAN, "max_duration: 1y", "max_duration: 9y")
    assert "FCRA-605-A-5" in codes(long_list, "fcra")


def test_fcra_bankruptcies_ten_years() -> None:
    bk = sub(CLEAN, "category: financial_obligation,\n     context: finance, providers: [bank], "
             "evidence: required, severity",
             "category: bankruptcy,\n     context: finance, providers: [bank], "
             "evidence: required, severity")
    ten = sub(sub(bk, "points: -10, expires: 1y", "points: -10, expires: 10y"),
              "max_duration: 1y", "max_duration: 10y")
    assert not {"FCRA-605-A-1", "FCRA-605-A-5"} & codes(ten, "fcra")
    eleven = sub(ten, "points: -10, expires: 10y", "points: -10, expires: 11y")
    assert "FCRA-605-A-1" in codes(eleven, "fcra")


def test_fcra_adverse_fact_attribute_period_is_a_warning() -> None:
    text = sub(CLEAN, "category: credit_history,", "category: delinquency,")
    text = sub(text, "{points: 5}],\n     expires: 1y}", "{points: 5}],\n     expires: 8y}")
    rep = run(text, ["fcra"])
    f = next(f for f in rep.findings if f.code == "FCRA-605-A-5")
    assert f.severity == "warning" and f.path == "attributes[0]"


def test_fcra_score_range_and_key_factor_labels() -> None:
    no_range = sub(CLEAN, "scale: {base: 100, min: 0, max: 200}", "scale: {base: 100}")
    assert "FCRA-609-F-RANGE" in codes(no_range, "fcra")
    no_label = sub(CLEAN, "{id: pay.late, kind: conduct, label: Late payment,",
                   "{id: pay.late, kind: conduct,")
    rep = run(no_label, ["fcra"])
    assert [f.path for f in rep.findings if f.code == "FCRA-609-F-KEY-FACTOR"] == ["rules[0]"]
    assert not {"FCRA-609-F-RANGE", "FCRA-609-F-KEY-FACTOR"} & codes(CLEAN, "fcra")


# -- cn-credit-repair-2026 --------------------------------------------------------------

@pytest.mark.parametrize(("severity", "rule_expiry", "list_max", "code", "level"), [
    ("minor", "90d", "90d", None, None),
    ("minor", "1y", "90d", "CN-PERIOD-MAX", "error"),
    ("general", "1y", "1y", None, None),
    ("general", "2y", "1y", "CN-PERIOD-MAX", "error"),
    ("general", "30d", "1y", "CN-PERIOD-MIN", "info"),
    ("serious", "3y", "3y", None, None),
    ("serious", "1y", "4y", "CN-PERIOD-MAX", "error"),
    ("serious", "180d", "3y", "CN-PERIOD-MIN", "info"),
])
def test_cn_publication_periods(severity: str, rule_expiry: str, list_max: str,
                                code: str | None, level: str | None) -> None:
    text = sub(CLEAN, "severity: general", f"severity: {severity}")
    text = sub(text, "points: -10, expires: 1y", f"points: -10, expires: {rule_expiry}")
    text = sub(text, "max_duration: 1y", f"max_duration: {list_max}")
    rep = run(text, ["cn-credit-repair-2026"])
    found = {(f.code, f.severity) for f in rep.findings
             if f.code in ("CN-PERIOD-MAX", "CN-PERIOD-MIN")}
    assert found == (set() if code is None else {(code, level)})


def test_cn_severity_must_be_declared() -> None:
    text = sub(CLEAN, " severity: general,\n", "\n")
    assert "CN-SEVERITY" in codes(text, "cn-credit-repair-2026")
    assert "CN-SEVERITY" not in codes(CLEAN, "cn-credit-repair-2026")


def test_cn_minor_information_is_not_published() -> None:
    text = sub(CLEAN, "severity: general", "severity: minor")
    text = sub(sub(text, "expires: 1y, resolved", "expires: 90d, resolved"),
               "max_duration: 1y", "max_duration: 90d")
    assert "CN-MINOR-PUBLIC" not in codes(text, "cn-credit-repair-2026")
    public = sub(text, "kind: black,", "kind: black, public: true,")
    assert "CN-MINOR-PUBLIC" in codes(public, "cn-credit-repair-2026")


def test_cn_repair_paths() -> None:
    no_void = sub(CLEAN, VOID_TYPE, "")
    assert "CN-REPAIR" in codes(no_void, "cn-credit-repair-2026")
    no_correction = sub(CLEAN, ", resolved_points: -2}", "}")
    assert "CN-REPAIR-CORRECTION" in codes(no_correction, "cn-credit-repair-2026")
    assert not {"CN-REPAIR", "CN-REPAIR-CORRECTION"} & codes(CLEAN, "cn-credit-repair-2026")


@pytest.mark.parametrize(("old", "new", "code"), [
    ("after: 90d", "after: 180d", "CN-REPAIR-PERIOD"),  # longer than the minimum
    ("  repair:\n", "  repair:\n    reply_within: 15\n", "CN-REPAIR-DEADLINE"),
    ("  repair:\n", "  repair:\n    decide_within: 5\n", "CN-REPAIR-DEADLINE"),
    ("{severity: general, after: 90d", "{record: pay.late, after: 1y", "CN-REPAIR-PERIOD"),
])
def test_cn_repair_periods_and_deadlines(old: str, new: str, code: str) -> None:
    rep = run(sub(CLEAN, old, new), ["cn-credit-repair-2026"])
    assert [(f.code, f.severity) for f in rep.findings if f.code == code] == [(code, "error")]
    assert code not in codes(CLEAN, "cn-credit-repair-2026")


def test_cn_a_general_record_without_a_repair_route_is_noted() -> None:
    text = sub(CLEAN, "{severity: general, after: 90d", "{severity: serious, after: 1y")
    found = [f for f in run(text, ["cn-credit-repair-2026"]).findings
             if f.code == "CN-REPAIR-ROUTE"]
    assert [(f.severity, f.path) for f in found] == [("info", "record_types[0]")]
    assert "CN-REPAIR-ROUTE" not in codes(CLEAN, "cn-credit-repair-2026")


# -- the CLI ----------------------------------------------------------------------------

runner = CliRunner()


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "rb.yaml"
    p.write_text(text, encoding="utf-8")
    (tmp_path / "cat.yaml").write_text(CATALOGUE, encoding="utf-8")
    return str(p)


def lint_args(tmp_path: Path, text: str, *more: str) -> list[str]:
    return ["lint", write(tmp_path, text), "--catalogue", str(tmp_path / "cat.yaml"), *more]


def test_cli_exit_codes(tmp_path: Path) -> None:
    assert runner.invoke(app, lint_args(tmp_path, CLEAN)).exit_code == 0
    # without the catalogue it cites, the citations cannot be checked: refused
    assert runner.invoke(app, ["lint", write(tmp_path, CLEAN)]).exit_code == 3
    warn = sub(CLEAN, "{points: 5}],\n     expires: 1y}", "{points: 5}]}")
    assert runner.invoke(app, lint_args(tmp_path, warn)).exit_code == 0
    assert runner.invoke(app, lint_args(tmp_path, warn, "--fail-on", "warning")
                         ).exit_code == 2
    err = sub(CLEAN, "context: finance, effect: deny", "context: transport, effect: deny")
    assert runner.invoke(app, lint_args(tmp_path, err)).exit_code == 2
    # errors under a profile not asked for do not count
    assert runner.invoke(app, lint_args(tmp_path, err, "-p", "fcra")).exit_code == 0
    refused = sub(CLEAN, "notice: 10d,", "notice: 0d,")
    assert runner.invoke(app, lint_args(tmp_path, refused, "-p", "fcra")).exit_code == 3
    broken = sub(CLEAN, "dimension: money, points: -10", "dimension: nowhere, points: -10")
    res = runner.invoke(app, lint_args(tmp_path, broken))
    assert res.exit_code == 1 and "error[rulebook.invalid]" in res.output
    res = runner.invoke(app, ["lint", "no/such/file.yaml"])
    assert res.exit_code == 1 and "error[not_found]" in res.output


@pytest.mark.parametrize("args", [[], ["rongcheng", "--profile", "ccpa"],
                                  ["rongcheng", "--frobnicate"], ["rongcheng", "extra"],
                                  ["rongcheng", "--fail-on", "info"]])
def test_cli_bad_usage_exits_64(args: list[str]) -> None:
    res = runner.invoke(app, ["lint", *args])
    assert res.exit_code == 64, res.output


def test_cli_json(tmp_path: Path) -> None:
    err = sub(CLEAN, "context: finance, effect: deny", "context: transport, effect: deny")
    res = runner.invoke(app, lint_args(tmp_path, err, "--json"))
    data = json.loads(res.stdout)
    rb = parse_rulebook(err, "x")
    assert data["rulebook"] == "lintbase" and data["sha256"] == rb.sha256
    assert data["operable"] is True
    assert data["profiles"] == ["baseline", *PROFILES]
    f = next(f for f in data["findings"] if f["code"] == "AIA-5-1-C-I")
    assert set(f) == {"profile", "code", "severity", "path", "line", "provision", "message"}
    assert f["path"] == "consequences[0]" and isinstance(f["line"], int)


def test_cli_human_output_names_file_line_and_provision(tmp_path: Path) -> None:
    err = sub(CLEAN, "context: finance, effect: deny", "context: transport, effect: deny")
    res = runner.invoke(app, lint_args(tmp_path, err, "-p", "eu-ai-act"))
    assert "AIA-5-1-C-I" in res.output and "Art. 5(1)(c)(i)" in res.output
    assert "operable" in res.output


def test_baseline_profile_matches_the_engine_refusal() -> None:
    text = sub(sub(CLEAN, "notice: 10d,", "notice: 0d,"), "points: -10, expires: 1y,",
               "points: -10,")
    rb = parse_rulebook(text, "t.yaml")
    assert len(lint(rb, [], CAT).by_profile("baseline")) == len(baseline_violations(rb))
