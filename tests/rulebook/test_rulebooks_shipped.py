"""The shipped rulebooks: each loads, lints as its docs page says, and runs a synthetic
population through the real ledger and reference engine (or is refused, for the one that
encodes what the system will not do)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from socialcredit.decisions import evaluate
from socialcredit.errors import RefusedRulebook
from socialcredit.identifiers.uscc import validate
from socialcredit.lab.synth import synthesize_to_file
from socialcredit.lint import lint
from socialcredit.rulebook import load_rulebook
from socialcredit.rulebook.baseline import is_social_tie, protected_category
from socialcredit.scoring.reference import standing
from socialcredit.service import Service
from tests.conftest import ROOT, RULEBOOKS
from tests.helpers import day, rec

OPERABLE = ["rongcheng", "judgment-defaulters", "sesame", "corporate", "platform", "fico-like",
            "tencent"]
ALL = [*OPERABLE, "media-reported"]


def rb_of(name: str):  # type: ignore[no-untyped-def]
    return load_rulebook(RULEBOOKS / f"{name}.yaml")


@pytest.mark.parametrize("name", ALL)
def test_loads_with_a_docs_page_and_the_repo_symlink(name: str) -> None:
    rb = rb_of(name)
    assert rb.rulebook == name
    assert (ROOT / "rulebooks" / f"{name}.yaml").resolve() == (RULEBOOKS / f"{name}.yaml")
    page = ROOT / "docs" / "rulebooks" / f"{name}.md"
    assert page.is_file(), page
    assert "✖" in page.read_text(encoding="utf-8")  # says which values are illustrative


@pytest.mark.parametrize("name", ALL)
def test_every_consequence_and_record_type_declares_its_context(name: str) -> None:
    rb = rb_of(name)
    assert all(c.context for c in rb.consequences)
    assert all(t.context for t in rb.record_types)
    assert all(t.category for t in rb.record_types if t.kind != "void")


# What each docs page says `socialcredit lint <name>` (all profiles) reports.
EXPECTED = {
    # name: (operable, exit code, codes that must appear, codes that must not)
    "rongcheng": (True, 2, {"AIA-5-1-C-I", "AIA-5-1-C-I-BENEFIT", "CN-REPAIR-CORRECTION"},
                  {"CN-PERIOD-MAX", "GDPR-22", "GDPR-5-1-E", "FCRA-605-A-5"}),
    "judgment-defaulters": (True, 2, {"AIA-5-1-C-I", "AIA-5-1-C-II-JOINT"},
                            {"CN-PERIOD-MAX", "GDPR-22", "FCRA-605-A-5"}),
    "sesame": (True, 0, {"AIA-5-1-C-I-BENEFIT"}, {"AIA-5-1-C-I", "GDPR-9", "GDPR-5-1-E"}),
    "corporate": (True, 0, {"AIA-SCOPE", "GDPR-SCOPE", "FCRA-SCOPE", "AIA-5-1-C-II-JOINT"},
                  {"CN-PERIOD-MAX", "CN-SEVERITY", "CN-PERIOD-MIN"}),
    "platform": (True, 0, set(), {"AIA-5-1-C-I", "GDPR-22"}),
    "tencent": (True, 0, {"AIA-5-1-C-I-BENEFIT", "AIA-HIGH-RISK", "CN-REPAIR-CORRECTION"},
                {"AIA-5-1-C-I", "GDPR-9", "GDPR-5-1-E", "CN-SEVERITY", "CN-PERIOD-MAX"}),
    "fico-like": (True, 0, {"CN-SEVERITY", "AIA-HIGH-RISK"},
                  {"FCRA-605-A-1", "FCRA-605-A-5", "FCRA-609-F-KEY-FACTOR", "AIA-5-1-C-I"}),
    "media-reported": (False, 3, {"BASE-PROTECTED", "BASE-OTHERS", "BASE-FOREVER",
                                  "BASE-NOTICE", "BASE-EVIDENCE", "AIA-5-1-C-I", "GDPR-9",
                                  "GDPR-22"}, set()),
}


@pytest.mark.parametrize("name", ALL)
def test_lints_as_documented(name: str) -> None:
    operable, exit_code, present, absent = EXPECTED[name]
    rep = lint(rb_of(name))
    assert rep.operable is operable
    assert rep.exit_code == exit_code, [f.render("") for f in rep.findings]
    assert present <= rep.codes(), present - rep.codes()
    assert not absent & rep.codes(), absent & rep.codes()
    assert all(f.line for f in rep.findings)


def test_judgment_defaulters_eu_findings_name_each_sanction() -> None:
    rep = lint(rb_of("judgment-defaulters"), ["eu-ai-act"])
    denies = [i for i, c in enumerate(rb_of("judgment-defaulters").consequences)
              if c.effect == "deny"]
    assert sorted(f.path for f in rep.findings if f.code == "AIA-5-1-C-I") == sorted(
        f"consequences[{i}]" for i in denies)


def test_media_reported_lint_explains_each_refusal() -> None:
    rb = rb_of("media-reported")
    rep = lint(rb, [])
    by_path: dict[str, set[str]] = {}
    for f in rep.by_profile("baseline"):
        by_path.setdefault(f.path, set()).add(f.code)
    # every negative rule is refused, each for the reasons the reports give
    for i, r in enumerate(rb.rules):
        if r.may_be_negative():
            assert {"BASE-FOREVER", "BASE-EVIDENCE"} <= by_path[f"rules[{i}]"]
    protected = {r.record for i, r in enumerate(rb.rules)
                 if "BASE-PROTECTED" in by_path.get(f"rules[{i}]", set())}
    assert {"health.blood_donation", "speech.praise_government", "assembly.rally_attendance",
            "family.elderly_relatives_not_visited", "speech.anti_government_post"} <= protected
    relatives = [f"consequences[{i}].applies_to" for i, c in enumerate(rb.consequences)
                 if c.applies_to == "relatives"]
    assert len(relatives) == 3 and all("BASE-OTHERS" in by_path[p] for p in relatives)
    assert "BASE-NOTICE" in by_path["lists[0]"]
    with pytest.raises(RefusedRulebook):
        Service.create(rb, "sqlite:///:memory:")


def test_media_reported_categories_say_what_the_data_is() -> None:
    rb = rb_of("media-reported")
    cats = {t.id: t.category for t in rb.record_types}
    assert cats["speech.praise_government"] == "political_opinion"
    assert cats["assembly.rally_attendance"] == "assembly"
    assert cats["health.blood_donation"] == "health"
    assert protected_category(rb.types["family.elderly_relatives_not_visited"]) == \
        "family or marital status"


def test_sesame_scores_no_personal_connections() -> None:
    rb = rb_of("sesame")
    assert {d.id for d in rb.dimensions} == {"credit_history", "fulfilment_capacity",
                                             "identity", "behaviour"}
    assert not any(is_social_tie(t) or protected_category(t) for t in rb.record_types)
    deposit = [c for c in rb.consequences if c.action == "hotel.deposit"]
    assert deposit[0].when.score_at_least == 600 and deposit[0].grant == {"deposit_waived": True}
    assert (rb.scale.min, rb.scale.max) == (350, 950)


def _corp_tier(records: list) -> str | None:  # type: ignore[type-arg]
    rb = rb_of("corporate")
    return standing(rb, "s1", "organization", records, day(30), day(30)).tier


def test_corporate_grades_match_the_tax_grades() -> None:
    rated = [rec("f", "fact.corp.revenue_status", 0, kind="fact", value="rated")]
    assert _corp_tier(rated) == "A"
    assert _corp_tier([*rated, rec("a", "tax.late_payment", 1)]) == "B"        # 89
    assert _corp_tier([*rated, rec("a", "market.serious_violation", 1)]) == "C"  # 60
    assert _corp_tier([*rated, rec("a", "tax.major_violation", 1)]) == "D"     # 39
    assert _corp_tier([rec("f", "fact.corp.revenue_status", 0, kind="fact", value="new")]) == "M"
    assert _corp_tier([rec("f", "fact.corp.revenue_status", 0, kind="fact", value="no_revenue"),
                       rec("a", "tax.late_filing", 1)]) == "C"


def test_corporate_rated_entities_never_land_in_the_m_band() -> None:
    """Every deduction is a whole number and nothing decays, so a rated entity's score is
    an integer and the half-point M band [69.5, 70) is out of its reach."""
    rb = rb_of("corporate")
    assert all(r.half_life is None for r in rb.rules)
    for r in rb.rules:
        for p in (r.points, r.resolved_points):
            assert p is None or float(p).is_integer()
    assert all(float(x).is_integer() for x in (rb.scale.base, rb.scale.min, rb.scale.max))
    m = next(t for t in rb.tiers if t.id == "M")
    assert m.min == 69.5


def test_corporate_joint_sanctions_come_from_several_agencies() -> None:
    rb = rb_of("corporate")
    listed = [c for c in rb.consequences if c.when.on_list == "major_tax_violators"]
    assert len({c.provider for c in listed}) >= 4
    assert len({c.context for c in listed}) >= 4
    kinds = {x.kind for x in rb.lists}
    assert kinds == {"red", "black"}
    sev = {t.id: t.severity for t in rb.record_types}
    for x in rb.lists:
        if x.kind == "black":
            assert sev[x.enter_when.record] == "serious" and x.max_duration == 3 * 365


def test_platform_warns_before_deactivation() -> None:
    rb = rb_of("platform")
    low = [rec("r", "fact.ride.rating_avg", 0, kind="fact", value=3.8)]
    soon = standing(rb, "s1", "person", low, day(5), day(5))
    assert soon.score == 40 and soon.lists == [] and [e.list for e in soon.pending] == [
        "rider_deactivated"]
    later = standing(rb, "s1", "person", low, day(20), day(20))
    assert later.lists == ["rider_deactivated"]
    assert evaluate(rb, later, "ride.request")[0] == "deny"
    # the venue ban is separate and expires
    ban = [rec("v", "venue.incident_report", 0)]
    assert standing(rb, "s1", "person", ban, day(30), day(30)).lists == ["shared_venue_bans"]
    assert standing(rb, "s1", "person", ban, day(400), day(400)).lists == []


def test_tencent_scores_no_social_ties_and_wealth_only_adds() -> None:
    rb = rb_of("tencent")
    dims = {d.id: d for d in rb.dimensions}
    assert set(dims) == {"fulfilment", "security", "wealth", "consumption"}
    assert (rb.scale.min, rb.scale.max) == (300, 850)
    assert rb.scale.base + sum(d.max or 0.0 for d in dims.values()) == 850
    assert dims["wealth"].min == 0 and all(b.points >= 0 for a in rb.attributes
                                           if a.dimension == "wealth" for b in a.bins)
    assert not any(is_social_tie(t) or protected_category(t) for t in rb.record_types)
    # nothing bought is scored: every conduct type is a repayment, a return or fraud
    assert {t.category for t in rb.record_types if t.kind == "conduct"} == {
        "repayment", "financial_obligation", "contract_obligation", "account_fraud"}
    assert all(c.effect == "benefit" for c in rb.consequences)
    verified = [rec("f", "fact.tencent.identity_verified", 0, kind="fact", value="verified"),
                rec("g", "fact.tencent.assets_band", 0, kind="fact", value=5)]
    assert standing(rb, "s1", "person", verified, day(10), day(10)).score == 550 + 30 + 60
    fraud = [*verified, rec("x", "tencent.account_fraud_confirmed", 0)]
    st = standing(rb, "s1", "person", fraud, day(10), day(10))
    assert st.dimensions["security"] == pytest.approx(30 - 150 * 0.5 ** (10 / 365))
    assert standing(rb, "s1", "person", fraud, day(3 * 365 + 1), day(3 * 365 + 1)
                    ).dimensions["security"] == 0  # facts and fraud both expired


def test_fico_like_range_and_weights() -> None:
    rb = rb_of("fico-like")
    best = {d.id: d.max for d in rb.dimensions}
    assert rb.scale.base + sum(v or 0.0 for v in best.values()) == 850
    assert best["payment_history"] == max(best.values())
    assert standing(rb, "s1", "person", [], day(0), day(0)).score == 300 + 80 + 32 + 80 + 55


def test_all_operable_rulebooks_share_one_ledger(make_ledger) -> None:  # type: ignore[no-untyped-def]
    """Shared record types agree on kind, providers and evidence: publishing every
    operable shipped rulebook into one ledger is accepted."""
    first, *rest = OPERABLE
    svc = make_ledger((RULEBOOKS / f"{first}.yaml").read_text(encoding="utf-8"))
    for name in rest:
        svc.programs.publish(rb_of(name))
    assert sorted(svc.ledger.programs()) == sorted(OPERABLE)


@pytest.mark.parametrize("name", OPERABLE)
def test_synthetic_population_runs(name: str, tmp_path: Path, clock) -> None:  # type: ignore[no-untyped-def]
    rb = rb_of(name)
    svc = Service.create(rb, f"sqlite:///{tmp_path / 'l.db'}", clock=clock)
    try:
        stats = synthesize_to_file(name, tmp_path / "pop.csv", subjects=150, months=18, seed=3)
        for provider, role in stats.providers:
            svc.providers.add(provider, role)
        clock.set("2026-11-01T00:00:00Z")
        rep = svc.records.ingest_file(tmp_path / "pop.csv")
        assert rep.rejected == 0 and rep.accepted == stats.records > 0
        tiers: Counter[str | None] = Counter()
        for subject, kind in svc.ledger.all_subjects():
            st = svc.standings.of(subject)
            assert st.applies == (kind in rb.subjects)
            if rb.scale.min is not None:
                assert rb.scale.min <= st.score <= (rb.scale.max or st.score)
            tiers[st.tier] += 1
            if name == "corporate":
                assert validate(subject).status in ("valid", "legacy")
        # a calibrated population of 150 may well sit in one tier (most residents hold A);
        # tests/test_synth_calibration.py checks the tier spread on 20,000 subjects
        assert set(tiers) <= {t.id for t in rb.tiers} | ({None} if not rb.tiers else set())
    finally:
        svc.close()
