"""The README's promises against a careless or hostile provider or operator (issue 9):
each of the eight ways one CSV row or one command could break them, on SQLite and
PostgreSQL, through the shipped rulebooks and the service (as the CLI drives it)."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.errors import IngestError, SocialCreditError
from socialcredit.rulebook import parse_rulebook
from socialcredit.rulebook.shipped import load_named
from socialcredit.service import Service
from socialcredit.timeutil import US_PER_DAY, format_instant, parse_instant

H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
PROVIDERS = {"bank-01": "bank", "court-01": "court", "civil_affairs-01": "civil_affairs",
             "reviewer-01": "reviewer", "utility-01": "utility"}
RONGCHENG = (Path(__file__).resolve().parents[2] / "rulebooks" / "rongcheng.yaml").read_text(
    encoding="utf-8")


@pytest.fixture
def city(db_url: str, clock: Any) -> Iterator[Service]:
    """rongcheng and the court's list, as the README's tour builds them."""
    clock.set("2026-10-01T00:00:00Z")
    svc = Service.create(load_named("rongcheng"), db_url, clock=clock)
    svc.programs.publish(load_named("judgment-defaulters"))
    for p, role in PROVIDERS.items():
        svc.providers.add(p, role)
    yield svc
    svc.close()


def listed_bob(svc: Service, clock: Any) -> None:
    clock.set("2026-10-21T00:00:00Z")
    svc.records.ingest_text(H + "court-01:b1,court-01,bob,person,court.refuses_to_perform,"
                                "2026-10-20,able_but_refuses,urn:case:881,\n")


# -- 1. authority ---------------------------------------------------------------------------

def test_1_a_bank_cannot_lift_a_court_listing(city: Service, clock: Any) -> None:
    listed_bob(city, clock)
    clock.set("2026-10-26T00:00:00Z")
    with pytest.raises(IngestError) as exc:
        city.records.ingest_text(H + "bank-01:res1,bank-01,bob,,finance.arrears_repaid,"
                                     "2026-10-25,,sha256:aa,court-01:b1\n")
    assert "may not resolve 'court-01:b1'" in str(exc.value)
    assert "court.judgment_performed" in str(exc.value)  # what does resolve it
    clock.set("2026-11-15T00:00:00Z")
    d = city.decisions.decide("bob", "rail.g_train_ticket", "judgment-defaulters")
    assert d.effect == "deny"
    # the court's own record of performance does lift it
    city.records.ingest_text(H + "court-01:p1,court-01,bob,,court.judgment_performed,"
                                 "2026-11-14,,urn:receipt:1,court-01:b1\n")
    assert city.decisions.decide("bob", "rail.g_train_ticket",
                                 "judgment-defaulters").effect == "allow"


# -- 2. evidence ----------------------------------------------------------------------------

def test_2_a_negative_value_on_a_per_unit_reward_is_refused(city: Service, clock: Any) -> None:
    clock.set("2026-11-02T00:00:00Z")
    with pytest.raises(IngestError) as exc:
        city.records.ingest_text(H + "civil_affairs-01:1,civil_affairs-01,victim1,person,"
                                     "civic.volunteer_hours,2026-11-01,-1000,,\n")
    assert "civic.volunteer_hours" in str(exc.value) and "negative" in str(exc.value)
    st = city.standings.of("victim1", "rongcheng")
    assert st.score == 1000 and st.pending == [] and st.lists == []


# -- 3. notice -------------------------------------------------------------------------------

def test_3a_a_backfill_gives_full_notice_from_the_backfill(city: Service, clock: Any) -> None:
    from socialcredit.principals import Forbidden, Principal

    clock.set("2026-11-01T00:00:00Z")
    rows = ("record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref,"
            "recorded_at\ncourt-01:h1,court-01,carl,person,court.refuses_to_perform,"
            "2026-06-01,able_but_refuses,urn:case:7,,2026-06-02\n")
    provider = Principal("court-01", "provider", provider="court-01")
    as_provider = Service(type(city.ctx)(city.ledger, city.ctx.sink, provider))
    with pytest.raises(Forbidden):
        as_provider.records.ingest_text(rows, backfill=True)
    assert city.ledger.count_records() == 0
    rep = city.records.ingest_text(rows, backfill=True)
    assert rep.accepted == 1
    now = rep.recorded_at
    assert now is not None
    # the objection window runs from the backfill, not from the pilot's old recorded_at
    assert city.decisions.decide("carl", "rail.g_train_ticket",
                                 "judgment-defaulters").effect == "allow"
    st = city.standings.of("carl", "judgment-defaulters")
    assert [e.start for e in st.pending] == [now + 10 * US_PER_DAY]
    later = now + 11 * US_PER_DAY
    assert city.decisions.decide("carl", "rail.g_train_ticket", "judgment-defaulters",
                                 at=later).effect == "deny"
    # and the public log's leaf states the dates the standing shows
    entry = next(e for e in leaves(city) if e["kind"] == "list.entry")
    listed = city.standings.of("carl", "judgment-defaulters", at=later).list_entries[0]
    assert (entry["start"], entry["end"], entry["notice_from"]) == (
        format_instant(listed.start), format_instant(listed.end),
        format_instant(listed.notice_from))


def leaves(svc: Service) -> list[dict[str, Any]]:
    from socialcredit.transparency.events import parse_leaf

    return [parse_leaf(d) for _, d, _ in svc.log.leaves()]


def test_3b_a_record_of_the_future_is_refused(city: Service, clock: Any) -> None:
    clock.set("2026-10-21T00:00:00Z")
    with pytest.raises(IngestError) as exc:
        city.records.ingest_text(H + "court-01:f1,court-01,dan,person,"
                                     "court.refuses_to_perform,2027-03-01,able_but_refuses,"
                                     "urn:case:9,\n")
    assert "occurred_at" in str(exc.value) and "later than the time it is recorded" in str(
        exc.value)
    # a few minutes of clock skew are tolerated, and the listing still starts after it
    city.records.ingest_text(H + "court-01:f2,court-01,dan,person,court.refuses_to_perform,"
                                 "2026-10-21T00:03:00Z,able_but_refuses,urn:case:10,\n")
    entry = next(e for e in leaves(city) if e["kind"] == "list.entry")
    assert parse_instant(entry["start"]) >= parse_instant("2026-10-21T00:03:00Z") + \
        10 * US_PER_DAY


def test_3c_a_late_rating_gives_notice_before_deactivation(db_url: str, clock: Any) -> None:
    clock.set("2026-11-20T00:00:00Z")
    with Service.create(load_named("platform"), db_url, clock=clock) as svc:
        svc.providers.add("ride-01", "ride_platform")
        # one late-arriving average rating, dated a month ago
        rep = svc.records.ingest_text(H + "ride-01:r1,ride-01,rita,person,fact.ride.rating_avg,"
                                          "2026-10-20,3.9,urn:ratings:1,\n")
        st = svc.standings.of("rita")
        assert st.score < 50 and st.lists == []
        assert [e.list for e in st.pending] == ["rider_deactivated"]
        assert svc.decisions.decide("rita", "ride.request").effect != "deny"
        assert rep.recorded_at is not None
        notice = st.pending[0].notice_from
        assert notice is not None and notice >= rep.recorded_at  # never before it was known
        later = rep.recorded_at + 15 * US_PER_DAY
        clock.now = later
        assert svc.decisions.decide("rita", "ride.request").effect == "deny"


# -- 4. a fixed past -------------------------------------------------------------------------

def test_4_a_standing_as_known_at_a_committed_time_never_changes(city: Service,
                                                                 clock: Any) -> None:
    clock.set("2026-10-21T00:00:00Z")  # the clock stands still: two ingests in one instant
    first = city.records.ingest_text(H + "bank-01:a1,bank-01,ann,person,finance.bank_arrears,"
                                         "2026-10-01,,sha256:1,\n")
    k = first.recorded_at
    assert k is not None
    before = city.standings.of("ann", "rongcheng", at=k, known_at=k).as_dict()
    second = city.records.ingest_text(H + "bank-01:a2,bank-01,ann,,finance.bank_arrears,"
                                          "2026-10-02,,sha256:2,\n")
    assert second.recorded_at is not None and second.recorded_at > k  # strictly later
    after = city.standings.of("ann", "rongcheng", at=k, known_at=k).as_dict()
    assert before == after


# -- 5. one identity -------------------------------------------------------------------------

def test_5_one_subject_however_its_id_is_typed(city: Service, clock: Any) -> None:
    listed_bob(city, clock)
    clock.set("2026-11-15T00:00:00Z")
    for spelling in ("bob", "bob ", " bob", "bob\t"):
        assert city.decisions.decide(spelling, "rail.g_train_ticket",
                                     "judgment-defaulters").effect == "deny", spelling
    nfc, nfd = unicodedata.normalize("NFC", "Zoë"), unicodedata.normalize("NFD", "Zoë")
    assert nfc != nfd
    city.records.ingest_text(H + f"bank-01:z1,bank-01,{nfc},person,finance.bank_arrears,"
                                 "2026-11-01,,sha256:z1,\n"
                                 f"bank-01:z2,bank-01,{nfd},,finance.bank_arrears,"
                                 "2026-11-02,,sha256:z2,\n")
    assert city.ledger.count_subjects() == 2  # bob and Zoë
    assert len(city.standings.of(nfd, "rongcheng").contributions) == 2
    for bad in ("bob\u200b", "b\u043eb", "\u0430\u0435"):  # zero-width; Cyrillic о; all-Cyrillic
        with pytest.raises(IngestError):
            city.records.ingest_text(H + f"bank-01:x-{len(bad)},bank-01,{bad},person,"
                                         "finance.bank_arrears,2026-11-01,,sha256:x,\n")
        with pytest.raises(SocialCreditError):
            city.standings.of(bad, "rongcheng")
    assert city.ledger.count_subjects() == 2


def test_5_uscc_subjects_are_upper_cased(city: Service, clock: Any) -> None:
    clock.set("2026-10-21T00:00:00Z")
    city.records.ingest_text(H + "court-01:o1,court-01,91350100m000100y43,organization,"
                                 "court.refuses_to_perform,2026-10-20,x,urn:case:2,\n")
    assert [s for s, _ in city.ledger.all_subjects()] == ["91350100M000100Y43"]
    assert city.standings.of("91350100m000100y43", "judgment-defaulters").pending


# -- 6. protected categories -----------------------------------------------------------------

def test_6_religious_practice_and_online_speech_are_refused(city: Service) -> None:
    text = RONGCHENG.replace("version: \"2026.1\"", "version: \"2026.9\"").replace(
        "label: Traffic ticket, category: traffic_violation",
        "label: Mosque attendance, category: attendance").replace(
        "label: Illegal heating tap, category: utility_misuse",
        "label: Critical posts on Weibo, category: online_activity")
    rb = parse_rulebook(text, "rongcheng-bad.yaml")
    with pytest.raises(SocialCreditError) as exc:
        city.programs.publish(rb)
    assert exc.value.code == "rulebook.refused"
    assert "religion" in exc.value.message and "online speech" in exc.value.message
    assert [pv.version for pv in city.programs.versions("rongcheng")] == ["2026.1"]


REWORDED = """
rulebook: lifestyle
version: "1"
subjects: [person]
scale: {base: 1000, min: 0, max: 1200}
dimensions: [{id: conduct}]
record_types:
  - {id: purchase.alcohol, kind: conduct, label: Buying alcohol, category: retail,
     providers: [retailer], evidence: required, legal_basis: "Store terms"}
  - {id: leisure.video_games, kind: conduct, label: Hours of video games, category: leisure,
     providers: [game_platform], evidence: required, legal_basis: "Platform terms"}
rules:
  - {record: purchase.alcohol, dimension: conduct, points: -5, expires: 1y}
  - {record: leisure.video_games, dimension: conduct, points: -10, expires: 1y}
consequences:
  - {action: internet.full_speed, effect: deny, when: {score_below: 990}, label: Throttled internet}
  - {action: employment.job, effect: deny, when: {score_below: 980}, label: Job denial}
"""


def test_6_what_no_catalogue_allows_is_refused(city: Service) -> None:
    rb = parse_rulebook(REWORDED, "lifestyle.yaml")
    with pytest.raises(SocialCreditError) as exc:
        city.programs.publish(rb)
    assert exc.value.code == "rulebook.refused"
    # naming the Chinese catalogue does not help: it lists no such items or measures
    cited = parse_rulebook(REWORDED + 'catalogue: {id: cn-public-credit, version: "2024"}\n',
                           "lifestyle.yaml")
    with pytest.raises(SocialCreditError) as exc:
        city.programs.publish(cited)
    assert "cites no item" in exc.value.message and "cites no measure" in exc.value.message
    assert city.programs.names() == ["rongcheng", "judgment-defaulters"]


# -- 7. retroactivity --------------------------------------------------------------------------

def version(points: int, name: str) -> str:
    return RONGCHENG.replace('version: "2026.1"', f'version: "{name}"').replace(
        "{record: contract.non_performance, dimension: commercial, points: -20,",
        f"{{record: contract.non_performance, dimension: commercial, points: {points},")


def test_7_a_harsher_version_does_not_reach_back(city: Service, clock: Any) -> None:
    clock.set("2026-10-21T00:00:00Z")
    city.records.ingest_text(H + "court-01:c1,court-01,eve,person,contract.non_performance,"
                                 "2026-10-10,,urn:case:3,\n")
    at = parse_instant("2026-12-01")
    assert city.standings.of("eve", "rongcheng", at=at).score == 980
    clock.set("2026-11-01T00:00:00Z")
    city.programs.publish(parse_rulebook(version(-40, "2026.2"), "v2.yaml"),
                          effective=parse_instant("2026-11-01"))
    st = city.standings.of("eve", "rongcheng", at=at)
    assert st.rulebook.version == "2026.2" and st.score == 980  # not 960
    # conduct under the harsher version is judged by it
    city.records.ingest_text(H + "court-01:c2,court-01,fay,person,contract.non_performance,"
                                 "2026-11-01,,urn:case:4,\n")
    assert city.standings.of("fay", "rongcheng", at=at).score == 960


def test_7_a_milder_version_applies_to_past_conduct(city: Service, clock: Any) -> None:
    clock.set("2026-10-21T00:00:00Z")
    city.records.ingest_text(H + "court-01:c1,court-01,eve,person,contract.non_performance,"
                                 "2026-10-10,,urn:case:3,\n")
    clock.set("2026-11-01T00:00:00Z")
    city.programs.publish(parse_rulebook(version(-5, "2026.3"), "v3.yaml"),
                          effective=parse_instant("2026-11-01"))
    assert city.standings.of("eve", "rongcheng", at=parse_instant("2026-12-01")).score == 995


def test_7_publish_shows_the_linter_and_the_diff(city: Service, clock: Any, db_url: str,
                                                 tmp_path: Path) -> None:
    city.close()
    v2 = tmp_path / "v2.yaml"
    v2.write_text(version(-40, "2026.2").replace(
        "{record: traffic.ticket, dimension: public_order, points: -5, expires: 90d",
        "{record: traffic.ticket, dimension: public_order, points: -5, expires: 1y"),
        encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(app, ["publish", str(v2), "--db", db_url, "--strict"])
    assert res.exit_code == 2, res.output  # the linter found errors: a strict publish refuses
    assert "CN-PERIOD-MAX" in res.output
    res = runner.invoke(app, ["publish", str(v2), "--db", db_url])
    assert res.exit_code == 0, res.output
    assert "CN-PERIOD-MAX" in res.output  # printed, not hidden
    assert "rules[contract.non_performance]: points: -20 → -40 (harsher)" in res.output
    assert "published rongcheng version 2026.2" in res.output


# -- 8. errors that help ---------------------------------------------------------------------

def test_8_a_misspelt_role_is_refused(city: Service, db_url: str) -> None:
    with pytest.raises(SocialCreditError) as exc:
        city.providers.add("p2", "polcie")
    assert exc.value.code == "provider.unknown_role" and "did you mean 'police'" in \
        exc.value.message
    assert "p2" not in city.providers.list()
    res = CliRunner().invoke(app, ["provider", "add", "p3", "--role", "ombudsman",
                                   "--new-role", "--db", db_url])
    assert res.exit_code == 0, res.output


def test_8_a_first_row_error_does_not_cascade_and_errors_are_grouped(city: Service,
                                                                   clock: Any) -> None:
    clock.set("2026-11-01T00:00:00Z")
    rows = [H.rstrip("\n"),
            "bank-01:g0,bank-01,gus,person,finance.bank_arearrs,2026-10-01,,sha256:0,"]
    rows += [f"bank-01:g{i},bank-01,gus,,finance.bank_arrears,2026-10-{i + 1:02d},,sha256:{i},"
             for i in range(1, 4)]
    rows += [f"bank-01:n{i},bank-01,nat{i},person,no.such.type,2026-10-01,,e," for i in range(50)]
    with pytest.raises(IngestError) as exc:
        city.records.ingest_text("\n".join(rows) + "\n")
    text = str(exc.value)
    assert "subject_kind" not in text  # gus's later rows are fine: the kind was given
    assert text.count("unknown record type 'no.such.type'") == 1  # stated once, counted
    assert "50 lines (lines 6, 7, 8, 9, 10, …)" in text
    assert len(exc.value.details) == 51  # every row still located for machines
    rep = city.records.ingest_text("\n".join(rows) + "\n", skip_invalid=True)
    assert (rep.accepted, rep.rejected) == (3, 51)
    assert json.loads(json.dumps(rep.as_dict()))["accepted"] == 3
