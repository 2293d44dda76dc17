"""Notices delivered: signed webhooks against a real local HTTP server (retries with
backoff, one idempotency key, every attempt recorded), e-mail against a real SMTP server,
and what an undelivered listing notice does to the listing's effect."""

from __future__ import annotations

import json
from collections.abc import Callable

from socialcredit.dueprocess.delivery import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryConfig,
    verify_signature,
)
from socialcredit.dueprocess.outbox import backoff
from socialcredit.service import Service
from tests.conftest import Clock, Hooks, Mailbox, _free_port
from tests.dueprocess.rulebooks import CITY, CSV_HEAD

RECORD = CSV_HEAD + "court-01:1,court-01,alice,person,court.finding,2026-01-04,x,urn:c:1,\n"


def city(make_ledger: Callable[..., Service], clock: Clock, text: str = CITY,
         now: str = "2026-01-05T09:00:00Z") -> Service:
    """The city's ledger, set up an hour before `now` (the ledger's clock stamps every
    write transaction strictly later than the one before, so what happens at `now` is
    stamped at `now` exactly)."""
    clock.set("2026-01-05T08:00:00Z")
    op = make_ledger(text, {"court-01": "court"})
    clock.set(now)
    return op


def test_a_webhook_is_signed_retried_with_backoff_and_recorded(
        make_ledger: Callable[..., Service], clock: Clock,
        webhook_server: tuple[str, Hooks]) -> None:
    url, hooks = webhook_server
    op = city(make_ledger, clock, now="2026-01-05T08:59:00Z")
    secret = op.principals.add("alice", "subject", subject="alice",
                               webhook=url)["webhook_secret"]
    op.records.ingest_text(RECORD)  # recorded at 08:59: the listing starts 01-15T08:59
    clock.set("2026-01-05T09:00:00Z")  # the outbox runs a minute later
    hooks.statuses = [500, 503]
    assert op.outbox.run()["retrying"] == 1
    assert op.outbox.run()["delivered"] == 0  # not due yet: backing off
    clock.set("2026-01-05T09:01:00Z")
    assert op.outbox.run()["retrying"] == 1
    clock.set("2026-01-05T09:02:59Z")
    assert op.outbox.run()["delivered"] == 0  # the second wait is two minutes
    clock.set("2026-01-05T09:03:00Z")
    assert op.outbox.run()["delivered"] == 1
    assert len(hooks.requests) == 3
    keys = {h["idempotency-key"] for h, _ in hooks.requests}
    assert len(keys) == 1
    for headers, body in hooks.requests:
        assert verify_signature(secret, headers[TIMESTAMP_HEADER.lower()], body,
                                headers[SIGNATURE_HEADER.lower()])
        assert not verify_signature("other", headers[TIMESTAMP_HEADER.lower()], body,
                                    headers[SIGNATURE_HEADER.lower()])
        assert json.loads(body)["record"]["evidence"] == "urn:c:1"
    (notice,) = op.acting_as("alice").notices.of()
    (delivery,) = notice["deliveries"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert [t["ok"] for t in delivery["tries"]] == [False, False, True]
    assert [t["detail"] for t in delivery["tries"]][:2] == ["HTTP 500", "HTTP 503"]
    # a listing held for its notice takes effect a whole notice period after delivery
    clock.set("2026-01-15T09:02:00Z")  # past the engine's start, but delivery came 4 minutes late
    st = op.standings.of("alice")
    assert st.lists == [] and st.suspended[0]["reason"] == "undelivered_notice"
    clock.set("2026-01-15T09:03:00Z")
    assert op.standings.of("alice").lists == ["city_defaulters"]
    leaves = [d.decode() for _, d, _ in op.log.leaves()]
    assert any('"kind":"list.notified"' in x and "2026-01-05T09:03:00Z" in x for x in leaves)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) // 60_000_000 for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(40) == 6 * 3600 * 1_000_000


def test_an_undeliverable_notice_alerts_the_operator_and_holds_the_listing(
        make_ledger: Callable[..., Service], clock: Clock,
        webhook_server: tuple[str, Hooks]) -> None:
    url, hooks = webhook_server
    op = city(make_ledger, clock)
    op.principals.add("alice", "subject", subject="alice", webhook=url)
    op.records.ingest_text(RECORD)
    hooks.statuses = [410]  # the receiver refuses: no retry
    assert op.outbox.run()["failed"] == 1
    (alert,) = op.notices.alerts()
    assert alert["alert"]["alert"] == "notice.undeliverable"
    assert "stays without effect" in alert["alert"]["message"]
    clock.set("2026-02-01T00:00:00Z")
    assert op.standings.of("alice").lists == []  # the clock did not run silently
    assert op.decisions.decide("alice", "rail.ticket").effect == "allow"


def test_the_rulebook_may_let_an_undelivered_listing_proceed(
        make_ledger: Callable[..., Service], clock: Clock,
        webhook_server: tuple[str, Hooks]) -> None:
    url, hooks = webhook_server
    op = city(make_ledger, clock, CITY.replace("  review_deadline: 30d",
                                               "  review_deadline: 30d\n"
                                               "  undelivered_notice: proceed"))
    op.principals.add("alice", "subject", subject="alice", webhook=url)
    op.records.ingest_text(RECORD)
    hooks.statuses = [410]
    op.outbox.run()
    assert op.notices.alerts()[0]["alert"]["alert"] == "notice.undeliverable"
    clock.set("2026-01-16T00:00:00Z")
    assert op.standings.of("alice").lists == ["city_defaulters"]


def test_a_subject_without_an_address_is_not_held(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op = city(make_ledger, clock)
    op.records.ingest_text(RECORD)
    assert op.outbox.run()["delivered"] == 0
    clock.set("2026-01-16T00:00:00Z")
    assert op.standings.of("alice").lists == ["city_defaulters"]
    assert op.notices.of("alice")[0]["deliveries"] == []


def test_e_mail_waits_without_a_mail_server_and_retries_when_it_is_down(
        make_ledger: Callable[..., Service], clock: Clock,
        smtp_server: tuple[str, Mailbox]) -> None:
    op = city(make_ledger, clock)
    op.principals.add("alice", "subject", subject="alice", email="alice@example.org")
    op.records.ingest_text(RECORD)
    assert op.outbox.run(DeliveryConfig())["waiting"] == 1
    down = DeliveryConfig(f"smtp://127.0.0.1:{_free_port()}")
    assert op.outbox.run(down)["retrying"] == 1
    (notice,) = op.notices.of("alice")
    assert "ConnectionRefusedError" in notice["deliveries"][0]["last_error"]
    url, box = smtp_server
    clock.set("2026-01-05T10:00:00Z")
    assert op.outbox.run(DeliveryConfig(url, "n@city.example"))["delivered"] == 1
    (msg,) = box.messages
    assert msg["From"] == "n@city.example"  # type: ignore[index]
    assert msg["Idempotency-Key"] == notice["deliveries"][0]["idempotency_key"]  # type: ignore[index]
