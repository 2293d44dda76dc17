"""Objections and appeals: what suspends, what does not, deadlines that resolve in the
subject's favour, amendments, appeals once and to someone else — on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from socialcredit.errors import SocialCreditError
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.conftest import Clock
from tests.dueprocess.rulebooks import CITY, CSV_HEAD

RECORD = CSV_HEAD + "court-01:1,court-01,alice,person,court.finding,2026-01-04,x,urn:c:1,\n"


def world(make_ledger: Callable[..., Service], clock: Clock, text: str = CITY
          ) -> tuple[Service, Service, Service]:
    # the ledger's clock stamps every write transaction strictly later than the one before:
    # set up an hour ahead, so the record is recorded at 09:00 exactly
    clock.set("2026-01-05T08:00:00Z")
    op = make_ledger(text, {"court-01": "court"})
    op.principals.add("alice", "subject", subject="alice")
    op.principals.add("rev", "reviewer")
    op.principals.add("arev", "appeal_reviewer")
    clock.set("2026-01-05T09:00:00Z")
    op.records.ingest_text(RECORD)
    return op, op.acting_as("alice"), op.acting_as("rev")


def test_a_court_ordered_list_is_not_suspended_and_the_notice_says_so(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, _ = world(make_ledger, clock, CITY.replace(
        "    legal_basis: \"City credit regulation Art. 12\"",
        "    legal_basis: \"City credit regulation Art. 12\"\n    court_ordered: true"))
    (n,) = alice.notices.of()
    assert n["listings"][0]["court_ordered"] is True
    assert n["object"]["suspends_listing"] is False
    assert "a court has already ordered this listing" in n["object"]["how"]
    case = alice.cases.object("court-01:1", "not me")
    assert case["detail"]["suspends"] == []
    assert case["detail"]["not_suspended"][0]["why"] == "court_ordered"
    clock.set("2026-01-16T00:00:00Z")
    assert op.standings.of("alice").lists == ["city_defaulters"]


def test_a_late_objection_is_reviewed_without_suspension(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, _ = world(make_ledger, clock)
    clock.set("2026-01-20T00:00:00Z")
    case = alice.cases.object("court-01:1", "not me")
    assert case["detail"]["not_suspended"][0]["why"] == "late"
    assert op.standings.of("alice").lists == ["city_defaulters"]


def test_the_objection_window_extends_timeliness(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, _ = world(make_ledger, clock, CITY.replace(
        "  review_deadline: 30d", "  review_deadline: 30d\n  objection_window: 30d"))
    clock.set("2026-01-20T00:00:00Z")  # in effect since the 15th, but within 30 days
    case = alice.cases.object("court-01:1", "not me")
    assert case["detail"]["suspends"][0]["state"] == "in_force"
    assert op.standings.of("alice").lists == []
    # the past is not rewritten: as known before the objection, the listing was in force
    past = op.standings.of("alice", at=parse_instant("2026-01-18"),
                           known_at=parse_instant("2026-01-19"))
    assert past.lists == ["city_defaulters"]
    # and at a time before the objection, as known now, it was in force too
    assert op.standings.of("alice", at=parse_instant("2026-01-18")).lists == [
        "city_defaulters"]


def test_suspension_reaches_every_decision_path(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, _ = world(make_ledger, clock)
    op.population.score_all()
    alice.cases.object("court-01:1", "not me")
    clock.set("2026-01-16T00:00:00Z")
    assert op.decisions.decide("alice", "rail.ticket").effect == "allow"
    d = op.decisions.decide("alice", "rail.ticket", materialized=True)
    assert d.effect == "allow" and d.source == "live"
    assert [s.lists for s in op.standings.all() if s.subject == "alice"] == [[]]
    st = op.standings.materialized("alice")
    assert st is not None and st.lists == [] and st.suspended
    assert alice.standings.view("alice")["suspended_lists"][0]["reason"] == "objection"


def test_an_objection_not_decided_in_time_resolves_for_the_subject(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, rev = world(make_ledger, clock)
    clock.set("2026-01-06T00:00:00Z")
    case = alice.cases.object("court-01:1", "not me")
    clock.set("2026-02-05T00:00:00Z")  # one day after the deadline: no sweep has run yet
    # what is known "now" is what the ledger has committed: here another subject's record,
    # committed at the deadline (ingest sweeps nothing)
    op.records.ingest_text(CSV_HEAD + "court-01:2,court-01,bob,person,court.finding,"
                           "2026-02-04,x,urn:c:2,\n")
    st = op.standings.of("alice")
    assert st.score == 1000 and st.lists == []  # the record stopped counting on its own
    before = op.standings.of("alice", at=parse_instant("2026-02-05"),
                             known_at=parse_instant("2026-02-04T23:00:00Z"))
    assert before.score == 900  # as known before the deadline, it still counted
    with pytest.raises(SocialCreditError) as late:
        rev.cases.decide(case["case_id"], "upheld", "it stands")
    assert late.value.code == "case.closed"
    got = alice.cases.get(case["case_id"])
    assert got["status"] == "lapsed" and got["outcome"]["void_record_id"]
    assert op.notices.alerts()[0]["alert"]["alert"] == "objection.overdue"
    assert op.outbox.run()["swept"]["lapsed"] == 0  # already done, and only once
    assert op.standings.of("alice").score == 1000
    assert op.log.verify().ok


def test_an_amendment_voids_and_files_the_corrected_record(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, rev = world(make_ledger, clock)
    case = alice.cases.object("court-01:1", "wrong date")
    clock.set("2026-01-07T00:00:00Z")
    out = rev.cases.decide(case["case_id"], "amended", "the finding is from 2025",
                           correction={"occurred_at": "2025-01-04"})
    fixed = out["outcome"]["corrected_record_id"]
    st = op.standings.of("alice")
    assert [c.record_id for c in st.contributions] == [fixed]
    assert [e.record_id for e in st.pending] == [fixed]  # a new notice period runs
    kinds = [n["kind"] for n in alice.notices.of()]
    assert kinds.count("record") == 2 and "case.outcome" in kinds
    with pytest.raises(SocialCreditError):
        rev.cases.decide(case["case_id"], "voided", "again")
    with pytest.raises(SocialCreditError) as withdrawn:
        alice.cases.object("court-01:1", "and again")
    assert "already withdrawn" in withdrawn.value.message


def test_an_appeal_is_heard_once_within_its_window(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, rev = world(make_ledger, clock)
    case = alice.cases.object("court-01:1", "not me")["case_id"]
    with pytest.raises(SocialCreditError) as too_soon:
        alice.cases.appeal(case, "open still")
    assert too_soon.value.code == "case.invalid"
    rev.cases.decide(case, "upheld", "the court confirmed it")
    clock.set("2026-01-10T00:00:00Z")
    appeal = alice.cases.appeal(case, "the court was wrong")["case_id"]
    with pytest.raises(SocialCreditError):
        alice.cases.appeal(case, "twice")
    with pytest.raises(SocialCreditError) as wrong_role:
        rev.cases.decide(appeal, "voided", "yes")
    assert wrong_role.value.code == "forbidden"
    out = op.acting_as("arev").cases.decide(appeal, "voided", "the finding was set aside")
    assert out["status"] == "voided"
    assert op.standings.of("alice").score == 1000


def test_an_appeal_window_closes(make_ledger: Callable[..., Service], clock: Clock) -> None:
    _, alice, rev = world(make_ledger, clock)
    case = alice.cases.object("court-01:1", "not me")["case_id"]
    rev.cases.decide(case, "upheld", "stands")
    clock.set("2026-02-05T09:00:00Z")
    with pytest.raises(SocialCreditError) as late:
        alice.cases.appeal(case, "late")
    assert "window closed" in late.value.message


def test_an_upheld_objection_resumes_the_listing_without_extending_it(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, rev = world(make_ledger, clock)
    alice.cases.object("court-01:1", "not me")
    clock.set("2026-01-20T00:00:00Z")
    case = op.cases.queue()[0]["case_id"]
    out = rev.cases.decide(case, "upheld", "the court confirmed it")
    assert out["outcome"]["listings_resume"][0]["list"] == "city_defaulters"
    st = op.standings.of("alice")
    assert st.lists == ["city_defaulters"]
    assert st.list_entries[0].end == parse_instant("2028-01-15T09:00:00Z")
    # while it ran, the listing was suspended; that stays true of the past
    assert op.standings.of("alice", at=parse_instant("2026-01-17")).lists == []


def test_objection_grounds_and_attachments_are_kept_by_hash(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    import hashlib

    from socialcredit.dueprocess.cases import Attachment

    _, alice, rev = world(make_ledger, clock)
    doc = b"%PDF-1.4 receipt of payment"
    case = alice.cases.object("court-01:1", "paid", attachments=[
        Attachment("receipt.pdf", doc), Attachment("copy.pdf", doc)])
    got = rev.cases.queue()[0]
    assert got["case_id"] == case["case_id"] and got["grounds"] == "paid"
    assert got["attachments"] == [{"sha256": hashlib.sha256(doc).hexdigest(),
                                   "name": "receipt.pdf", "size": len(doc), "erased": False}]
    with pytest.raises(SocialCreditError):
        alice.cases.object("court-01:1", "again")  # already under review
