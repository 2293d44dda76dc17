"""Listings in force over time, as the ledger knows them now: the operator's dashboard
draws them, so ended listings must be there and due process's holds must be cut out
(an objection being decided, a notice not yet delivered), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from socialcredit.dueprocess.delivery import DeliveryConfig
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from socialcredit.web.dashboard import listing_steps, population
from tests.conftest import Clock, Mailbox
from tests.dueprocess.rulebooks import CITY, CSV_HEAD


def at(text: str) -> int:
    return parse_instant(text)


def finding(n: int, subject: str, day: str) -> str:
    return (f"court-01:{n},court-01,{subject},person,court.finding,{day},able_but_refuses,"
            f"urn:court:case:{n},\n")


def test_ended_listings_and_due_process_holds(make_ledger: Callable[..., Service],
                                              clock: Clock,
                                              smtp_server: tuple[str, Mailbox]) -> None:
    smtp, _box = smtp_server
    mail = DeliveryConfig(smtp, "notices@city.example")
    clock.set("2026-01-05T08:00:00Z")
    op = make_ledger(CITY, {"court-01": "court"})
    op.principals.add("court", "provider", provider="court-01")
    for who in ("alice", "carol"):
        op.principals.add(who, "subject", subject=who)
    op.principals.add("erin", "subject", subject="erin", email="erin@example.org")
    op.principals.add("rev-1", "reviewer")
    court, rev = op.acting_as("court"), op.acting_as("rev-1")

    clock.set("2026-01-05T09:00:00Z")  # listings start ten days on: 2026-01-15T09:00
    court.records.ingest_text(CSV_HEAD + "".join(
        finding(i, s, "2026-01-04")
        for i, s in enumerate(["alice", "bob", "carol", "dave", "erin"], 1)))
    # alice and carol object in time: suspended from their filing
    clock.set("2026-01-07T08:00:00Z")
    a = op.acting_as("alice").cases.object("court-01:1", "not me", attachments=[])
    c = op.acting_as("carol").cases.object("court-01:3", "not me", attachments=[])
    # bob performs the judgment on 2026-02-01: his listing ends then
    clock.set("2026-02-02T09:00:00Z")
    court.records.ingest_text(CSV_HEAD + "court-01:9,court-01,bob,,court.paid,2026-02-01,,"
                              "urn:court:paid:9,court-01:2\n")
    # alice's objection fails on 2026-02-03: her listing takes effect from the decision;
    # carol's succeeds: the record is voided, her listing never counted
    clock.set("2026-02-03T09:00:00Z")
    assert rev.cases.decide(a["case_id"], "upheld", "the court's record stands")["status"] \
        == "upheld"
    assert rev.cases.decide(c["case_id"], "voided", "not her judgment")["status"] == "voided"
    # erin's notice is delivered on 2026-02-04: in force a whole notice period later
    clock.set("2026-02-04T09:00:00Z")
    assert op.outbox.run(mail)["delivered"] >= 1
    clock.set("2026-03-01T00:00:00Z")

    standings, periods = op.standings.with_listing_history("city")
    assert len(standings) == 5
    assert sorted(periods, key=str) == sorted([
        (at("2026-01-15T09:00:00Z"), at("2026-02-01T00:00:00Z")),  # bob: ended by payment
        (at("2026-01-15T09:00:00Z"), None),  # dave: in force
        (at("2026-02-03T09:00:00Z"), None),  # alice: from the objection's outcome
        (at("2026-02-14T09:00:00Z"), None),  # erin: delivered + 10 days
    ], key=str)
    # the dashboard's chart: 2 from 2026-01-15, 1 after bob's payment, 2 with alice, 3 with
    # erin, and as many as are in force now
    now = at("2026-03-01T00:00:00Z")
    assert listing_steps(periods, now) == [
        (at("2026-01-15T09:00:00Z"), 2.0), (at("2026-02-01T00:00:00Z"), 1.0),
        (at("2026-02-03T09:00:00Z"), 2.0), (at("2026-02-14T09:00:00Z"), 3.0), (now, 3.0)]
    drawn = population(op, "city")
    assert drawn["listings_now"] == 3 == sum(1 for s in standings if s.lists)
    assert drawn["listings_svg"] is not None
