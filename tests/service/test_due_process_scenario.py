"""The due-process scenario of issue 10, end to end, on SQLite and PostgreSQL.

A court record → the notice is e-mailed (read back from a real SMTP server) → the subject
objects in time → the listing is suspended (live and materialized decisions, and the
standing the subject sees, all agree) → a reviewer voids → the standing is recomputed and
the outcome notice lists the decisions affected → a second record → the listing takes
effect after the notice period → a repair application after the minimum period → granted
→ the listing ends → the subject's file shows all of it and every relying-party query,
with log proofs that verify.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from socialcredit.dueprocess.delivery import DeliveryConfig
from socialcredit.errors import SocialCreditError
from socialcredit.service import Service
from tests.conftest import Clock, Mailbox
from tests.dueprocess.rulebooks import CITY, CSV_HEAD


def mail_to(box: Mailbox, address: str) -> list[Any]:
    return [m for m in box.messages if m["To"] == address]  # type: ignore[index]


def text_of(msg: Any) -> str:
    return str(msg.get_body(preferencelist=("plain",)).get_content())


def json_of(msg: Any) -> dict[str, Any]:
    part = next(p for p in msg.iter_attachments() if p.get_content_type() == "application/json")
    return dict(json.loads(part.get_content()))


def test_the_due_process_scenario(make_ledger: Callable[..., Service], clock: Clock,
                                  smtp_server: tuple[str, Mailbox]) -> None:
    smtp, box = smtp_server
    mail = DeliveryConfig(smtp, "notices@city.example")
    clock.set("2026-01-05T08:00:00Z")  # set-up writes first, then the record at 09:00
    op = make_ledger(CITY, {"court-01": "court"})
    op.principals.add("court", "provider", provider="court-01")
    op.principals.add("alice", "subject", subject="alice", email="alice@example.org")
    op.principals.add("rev-1", "reviewer")
    op.principals.add("railway", "relying_party")
    op.principals.add("bikes", "relying_party")
    court, alice, rev = (op.acting_as(p) for p in ("court", "alice", "rev-1"))
    railway, bikes = op.acting_as("railway"), op.acting_as("bikes")

    # 1. a court record; the notice is e-mailed and read back from the SMTP server
    clock.set("2026-01-05T09:00:00Z")
    court.records.ingest_text(CSV_HEAD + "court-01:1,court-01,alice,person,court.finding,"
                              "2026-01-04,able_but_refuses,urn:court:case:1,\n")
    assert op.outbox.run(mail)["delivered"] == 1
    (msg,) = mail_to(box, "alice@example.org")
    body = text_of(msg)
    for fact in ("court-01:1", "court.finding", "court-01", "urn:court:case:1",
                 "Civil Procedure Law Art. 262", "City list of judgment defaulters",
                 "2026-01-15T09:00:00Z", "-100 points", "No train tickets while listed",
                 "suspends the listing"):
        assert fact in body, fact
    sent = json_of(msg)
    assert sent["proof"]["verified"] is True and "list.entry" in sent["proof"]["leaf"]
    assert sent["object"]["until"] == "2026-01-15T09:00:00Z"

    # a relying party with a tier-scoped grant asks while the record counts
    op.consents.grant("bikes", "deposit-free bike", "tier", subject="alice")
    clock.set("2026-01-06T10:00:00Z")
    d_bike = bikes.decisions.decide("alice", "bike.deposit", purpose="deposit-free bike")
    seen = d_bike.as_dict()
    assert seen["effect"] == "allow" and seen["tier"] == "B" and "score" not in seen

    # 2. the subject objects in time: the listing is suspended from the filing
    clock.set("2026-01-07T08:00:00Z")
    case = alice.cases.object("court-01:1", "I paid the judgment in December",
                              attachments=[])
    assert [x["list"] for x in case["detail"]["suspends"]] == ["city_defaulters"]
    assert case["due_at"] == "2026-02-06T08:00:00Z"

    # 3. after the notice period the listing would be in force: it is suspended, on every
    # decision path and in the standing the subject sees
    clock.set("2026-01-16T12:00:00Z")
    st = alice.standings.of("alice")
    assert st.lists == [] and st.suspended[0]["reason"] == "objection"
    assert railway.decisions.decide("alice", "rail.ticket").effect == "allow"
    op.population.score_all()
    d_mat = railway.decisions.decide("alice", "rail.ticket", materialized=True)
    assert d_mat.effect == "allow" and d_mat.source == "live"
    assert op.standings.materialized("alice") is not None
    with pytest.raises(SocialCreditError) as no_grant:  # a score-based action needs consent
        railway.decisions.decide("alice", "bike.deposit")
    assert no_grant.value.code == "consent.required"

    # 4. a reviewer voids; the standing is recomputed; the outcome lists decisions affected
    clock.set("2026-01-20T09:00:00Z")
    assert [c["case_id"] for c in rev.cases.queue()] == [case["case_id"]]
    out = rev.cases.decide(case["case_id"], "voided", "The judgment was performed on "
                           "2025-12-20 (bank transfer attached by the court)")
    assert out["status"] == "voided"
    affected = out["outcome"]["decisions_affected"]
    assert [a["decision_id"] for a in affected] == [d_bike.decision_id]
    assert affected[0]["requester"] == "bikes"
    st = alice.standings.of("alice")
    assert st.score == 1000 and st.tier == "A" and st.suspended == []
    outcome = next(n for n in alice.notices.of() if n["kind"] == "case.outcome")
    assert outcome["outcome"]["decisions_affected"][0]["action"] == "bike.deposit"
    assert outcome["proof"]["verified"] and '"outcome":"voided"' in outcome["proof"]["leaf"]

    # 5. a second record; no objection; the listing takes effect after the notice period
    clock.set("2026-02-02T09:00:00Z")
    court.records.ingest_text(CSV_HEAD + "court-01:2,court-01,alice,,court.finding,"
                              "2026-02-01,able_but_refuses,urn:court:case:2,\n")
    op.outbox.run(mail)
    assert len(mail_to(box, "alice@example.org")) >= 3  # record 1, its outcome, record 2
    clock.set("2026-02-13T09:00:00Z")
    assert alice.standings.of("alice").lists == ["city_defaulters"]
    deny = railway.decisions.decide("alice", "rail.ticket", purpose="ticket sale")
    shown = deny.as_dict()
    assert shown["effect"] == "deny" and shown["disclosure"] == "lists"
    assert "score" not in shown and "tier" not in shown
    aa = shown["adverse_action"]
    assert aa["lists"][0]["legal_basis"] == "City credit regulation Art. 12"
    assert any("free of charge" in r for r in aa["rights"])
    swept = op.outbox.run(mail)["swept"]
    assert swept["listings_started"] == 1
    kinds = [n["kind"] for n in alice.notices.of()]
    assert "decision.deny" in kinds and "listing.started" in kinds

    # 6. repair: refused before the minimum period, accepted after it, then granted
    clock.set("2026-04-01T09:00:00Z")
    conditions = {"obligation_performed": "paid in full on 2026-03-30",
                  "commitment": "I commit to perform future judgments on time"}
    with pytest.raises(SocialCreditError) as early:
        alice.repairs.apply("court-01:2", conditions)
    assert early.value.code == "repair.ineligible" and "2026-05-13" in early.value.message
    clock.set("2026-05-14T09:00:00Z")
    with pytest.raises(SocialCreditError) as missing:
        alice.repairs.apply("court-01:2", {"obligation_performed": "paid"})
    assert "commitment" in missing.value.message
    rep = alice.repairs.apply("court-01:2", conditions)
    assert rep["status"] == "filed" and rep["reply_due_at"] == "2026-05-28T09:00:00Z"
    clock.set("2026-05-15T09:00:00Z")
    assert rev.repairs.decide(rep["case_id"], "accepted", "complete")["due_at"] == \
        "2026-05-20T09:00:00Z"
    clock.set("2026-05-18T09:00:00Z")
    granted = rev.repairs.decide(rep["case_id"], "granted", "obligation performed")
    assert granted["outcome"]["listings_ended"] == [{"program": "city",
                                                      "list": "city_defaulters"}]

    # 7. the listing ends
    clock.set("2026-05-19T09:00:00Z")
    st = alice.standings.of("alice")
    assert st.lists == [] and st.score == 1000
    assert railway.decisions.decide("alice", "rail.ticket").effect == "allow"
    before = op.standings.of("alice", at=_day("2026-03-01"))  # the past stays the past
    assert before.lists == ["city_defaulters"] and before.score == 900

    # 8. the subject's file shows all of it, with log proofs that verify
    op.outbox.run(mail)
    f = alice.files.of()
    status = {r["record_id"]: r["status"] for r in f["records"]}
    assert status["court-01:1"] == "voided" and status["court-01:2"] == "repaired"
    states = {x["record_id"]: x["state"] for x in f["listings"]}
    assert states == {"court-01:1": "withdrawn", "court-01:2": "ended_by_repair"}
    asked = {(a["principal"], a["operation"]) for a in f["access_log"]}
    assert {("railway", "decision"), ("bikes", "decision"), ("operator", "standing")} <= asked
    assert {d["requester"]["principal"] for d in f["decisions"]} >= {"railway", "bikes"}
    assert {(c["kind"], c["status"]) for c in f["cases"]} == {("objection", "voided"),
                                                               ("repair", "granted")}
    assert all(d["status"] == "delivered" for n in f["notices"] for d in n["deliveries"])
    kinds = {leaf["event"]["kind"] for leaf in f["log"]["leaves"]}
    assert {"list.entry", "list.suspended", "record.void", "list.exit", "case.filed",
            "case.decided", "record.repaired", "list.notified"} <= kinds
    assert f["log"]["checkpoint_verified"] is True
    assert all(leaf["verified"] for leaf in f["log"]["leaves"])
    assert "<h2>Decisions about you, and who asked</h2>" in alice.files.html()
    assert op.log.verify().ok


def _day(text: str) -> int:
    from socialcredit.timeutil import parse_instant

    return parse_instant(text)
