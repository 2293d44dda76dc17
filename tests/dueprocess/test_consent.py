"""Consent: a relying party sees a standing or a decision only within a grant's scope
(public lists aside), revocation works at once, and every read by someone else is in the
subject's access log."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from socialcredit.errors import SocialCreditError
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.conftest import Clock
from tests.dueprocess.rulebooks import CITY, CSV_HEAD

RECORDS = CSV_HEAD + ("court-01:1,court-01,alice,person,court.finding,2026-01-04,x,urn:c:1,\n"
                      "court-01:2,court-01,bob,person,court.finding,2026-01-04,x,urn:c:2,\n")


def world(make_ledger: Callable[..., Service], clock: Clock) -> tuple[Service, Service,
                                                                     Service]:
    clock.set("2026-01-05T09:00:00Z")
    op = make_ledger(CITY, {"court-01": "court"})
    op.principals.add("alice", "subject", subject="alice")
    op.principals.add("bikes", "relying_party")
    op.records.ingest_text(RECORDS)
    return op, op.acting_as("alice"), op.acting_as("bikes")


@pytest.mark.parametrize(("scope", "shown", "hidden"), [
    ("effect", {"effect", "reasons", "grant"}, {"tier", "score"}),
    ("tier", {"effect", "tier"}, {"score"}),
    ("score", {"effect", "tier", "score"}, set()),
    ("explanation", {"effect", "tier", "score", "known_at"}, set()),
])
def test_each_scope_shows_no_more_than_it_allows(
        make_ledger: Callable[..., Service], clock: Clock, scope: str, shown: set[str],
        hidden: set[str]) -> None:
    _, alice, bikes = world(make_ledger, clock)
    alice.consents.grant("bikes", "deposit-free bike", scope)
    d = bikes.decisions.decide("alice", "bike.deposit").as_dict()
    assert shown <= set(d) and not hidden & set(d)
    records = [r for c in d["reasons"] for x in c["conditions"] for r in x.get("records", [])]
    assert (records == ["court-01:1"]) == (scope == "explanation")
    view = bikes.standings.view("alice")
    assert ("score" in view) == (scope in ("score", "explanation"))
    assert ("contributions" in view) == (scope == "explanation")


def test_without_a_grant_only_public_list_membership(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    _, _, bikes = world(make_ledger, clock)
    with pytest.raises(SocialCreditError) as caught:
        bikes.decisions.decide("alice", "bike.deposit")
    assert caught.value.code == "consent.required"
    clock.set("2026-01-16T00:00:00Z")
    d = bikes.decisions.decide("alice", "rail.ticket").as_dict()
    assert d["effect"] == "deny" and d["lists"] == ["city_defaulters"]
    assert d["disclosure"] == "lists" and "score" not in d and "tier" not in d
    assert bikes.standings.view("alice") == {
        "subject": "alice", "program": "city", "at": "2026-01-16T00:00:00Z",
        "rulebook": d["rulebook"], "lists": ["city_defaulters"], "disclosure": "lists"}


def test_revocation_and_expiry_work_at_once(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    _, alice, bikes = world(make_ledger, clock)
    g = alice.consents.grant("bikes", "deposit-free bike", "tier")
    bikes.decisions.decide("alice", "bike.deposit")
    alice.consents.revoke(g["grant_id"])
    with pytest.raises(SocialCreditError) as caught:
        bikes.decisions.decide("alice", "bike.deposit")
    assert caught.value.code == "consent.required"
    alice.consents.grant("bikes", "deposit-free bike", "tier",
                         expires_at=parse_instant("2026-01-06"))
    bikes.decisions.decide("alice", "bike.deposit")
    clock.set("2026-01-06T00:00:00Z")
    with pytest.raises(SocialCreditError):
        bikes.decisions.decide("alice", "bike.deposit")
    assert [x["active"] for x in alice.consents.list()] == [False, False]


def test_a_grant_is_for_its_purpose_its_subject_and_its_party(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, bikes = world(make_ledger, clock)
    op.principals.add("cars", "relying_party")
    g = alice.consents.grant("bikes", "deposit-free bike", "score")
    for kw in ({"purpose": "a car loan"}, {"grant": g["grant_id"], "purpose": "a car loan"}):
        with pytest.raises(SocialCreditError):
            bikes.decisions.decide("alice", "bike.deposit", **kw)  # type: ignore[arg-type]
    with pytest.raises(SocialCreditError):
        op.acting_as("cars").decisions.decide("alice", "bike.deposit", grant=g["grant_id"])
    with pytest.raises(SocialCreditError):
        bikes.decisions.decide("bob", "bike.deposit", grant=g["grant_id"])
    d = bikes.decisions.decide("alice", "bike.deposit", grant=g["grant_id"])
    assert d.as_dict()["grant_id"] == g["grant_id"]
    with pytest.raises(SocialCreditError) as bad:
        alice.consents.grant("bikes", "x", "everything")
    assert bad.value.code == "consent.invalid"
    with pytest.raises(SocialCreditError) as nobody:
        alice.consents.grant("no-such-party", "x", "tier")
    assert nobody.value.code == "not_found"


def test_every_read_by_someone_else_is_in_the_access_log(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, bikes = world(make_ledger, clock)
    alice.consents.grant("bikes", "deposit-free bike", "tier")
    alice.standings.of("alice")
    alice.decisions.decide("alice", "bike.deposit")
    assert alice.access.of() == []  # the subject reading itself leaves no trace
    bikes.decisions.decide("alice", "bike.deposit", purpose="deposit-free bike")
    op.standings.of("alice")
    op.standings.all()
    log = alice.access.of()
    assert [(a["principal"], a["operation"], a["population"]) for a in log] == [
        ("operator", "standings.all", True), ("operator", "standing", False),
        ("bikes", "decision", False)]
    assert log[2]["purpose"] == "deposit-free bike" and log[2]["grant_id"]


def test_a_relying_party_reads_back_only_its_own_decisions_as_shown(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, alice, bikes = world(make_ledger, clock)
    alice.consents.grant("bikes", "deposit-free bike", "effect")
    shown = bikes.decisions.decide("alice", "bike.deposit").as_dict()
    op.decisions.decide("alice", "bike.deposit")
    (again,) = bikes.decisions.log("alice")
    assert again == shown
    assert len(op.decisions.log("alice")) == 2
    full = alice.decisions.log()
    assert {d["requester"]["principal"] for d in full} == {"bikes", "operator"}
    assert all("score" in d for d in full)  # the subject sees everything


def test_grants_read_by_the_driver_equal_the_tables_rows(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    """`consent.between` reads with the driver's cursor (a decision's first look-up of
    a subject pays it): the same grants, in the same order, as SQLAlchemy's select —
    first statement of a transaction or not, several grants, revoked and expiring ones."""
    from sqlalchemy import select

    from socialcredit.dueprocess import consent
    from socialcredit.dueprocess.schema import consents

    op, alice, _ = world(make_ledger, clock)
    alice.consents.grant("bikes", "deposit-free bike", "tier")
    clock.set("2026-01-06T09:00:00Z")
    second = alice.consents.grant("bikes", "rail", "score",
                                  expires_at=parse_instant("2027-01-01T00:00:00Z"))
    alice.consents.grant("bikes", "flat", "effect")
    alice.consents.revoke(second["grant_id"])
    c = consents.c
    for first in (True, False):
        with op.ctx.read() as conn:
            if not first:
                conn.exec_driver_sql("SELECT 1").all()
            got = consent.between(conn, "alice", "bikes")
            plain = [consent._grant(r) for r in conn.execute(select(consents).where(
                c.subject == "alice", c.relying_party == "bikes")
                .order_by(c.granted_at, c.grant_id))]
        assert got == plain and len(got) == 3
        assert [type(v) for v in vars(got[1]).values()] == \
            [type(v) for v in vars(plain[1]).values()]
    with op.ctx.read() as conn:
        assert consent.between(conn, "bob", "bikes") == []
