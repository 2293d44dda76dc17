"""The authorization matrix: every role × every service operation, allowed or refused.

EXPECTED is written out here by hand, independently of service/authz.py: a change to who
may do what must change both. An operation counts as refused when it raises Forbidden
(code `forbidden`); as allowed when it does anything else — succeeds, or fails for a
reason that is not the principal's (an ineligible repair, an unknown import directory).
A subject is also refused everything about another subject.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from socialcredit.dueprocess.delivery import DeliveryConfig
from socialcredit.errors import SocialCreditError
from socialcredit.principals import ANONYMOUS, PUBLIC, ROLES
from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from socialcredit.service.authz import OPERATIONS
from tests.conftest import Clock
from tests.dueprocess.rulebooks import CITY
from tests.helpers import catalogue_for_tests

ALL = (*ROLES, PUBLIC)
PRINCIPAL_OF = {"operator": "operator", "provider": "court", "relying_party": "rp",
                "reviewer": "rev", "appeal_reviewer": "arev", "auditor": "aud",
                "subject": "alice-p", PUBLIC: "anonymous"}

EXPECTED: dict[str, set[str]] = {
    "programs.publish": {"operator"},
    "programs.read": set(ALL),
    "catalogues.publish": {"operator"},
    "catalogues.read": set(ALL),
    "providers.add": {"operator"},
    "providers.list": {"operator", "auditor"},
    "records.ingest": {"operator", "provider", "reviewer", "appeal_reviewer"},
    "records.backfill": {"operator"},
    "records.history": {"operator", "auditor", "provider", "reviewer", "appeal_reviewer"},
    "standings.read": {"operator", "auditor", "reviewer", "appeal_reviewer", "subject",
                       "relying_party"},
    "standings.all": {"operator", "auditor"},
    "decisions.decide": {"operator", "relying_party", "subject"},
    "decisions.log": {"operator", "auditor", "subject", "relying_party"},
    "decisions.seal": {"operator"},
    "population.score": {"operator"},
    "population.export": {"operator"},
    "population.import": {"operator"},
    "jobs.read": {"operator", "auditor"},
    "exports.run": {"operator"},
    "exports.read": {"operator"},
    "lists.public": set(ALL),
    "organizations.name": {"operator"},
    "log.read": set(ALL),
    "log.mine": {"subject", "operator"},
    "principals.manage": {"operator"},
    "notices.read": {"subject", "operator"},
    "alerts.read": {"operator"},
    "outbox.run": {"operator"},
    "cases.object": {"subject", "operator"},
    "cases.appeal": {"subject", "operator"},
    "cases.read": {"subject", "operator", "auditor", "reviewer", "appeal_reviewer"},
    "cases.queue": {"operator", "auditor", "reviewer", "appeal_reviewer"},
    "cases.decide objection": {"reviewer"},
    "cases.decide appeal": {"appeal_reviewer"},
    "repair.apply": {"subject", "operator"},
    "repair.decide": {"reviewer"},
    "consent.grant": {"subject", "operator"},
    "consent.list": {"subject", "operator", "relying_party"},
    "consent.revoke": {"subject", "operator"},
    "file.read": {"subject", "operator"},
    "access_log.read": {"subject", "operator", "auditor"},
    "retention.run": {"operator"},
    "metrics.read": {"operator", "auditor"},
}
HEAD = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"


@dataclass
class World:
    op: Service
    clock: Clock
    tmp: Path
    n: Iterator[int]
    old: list[str]  # alice's records old enough to repair

    def record(self, subject: str = "alice") -> str:
        rid = f"court-01:m{next(self.n)}"
        self.op.records.ingest_text(HEAD + f"{rid},court-01,{subject},person,court.finding,"
                                    "2026-04-01,x,urn:e,\n")
        return rid

    def objection(self) -> str:
        return str(self.op.cases.object(self.record(), "grounds")["case_id"])

    def upheld(self) -> str:
        case = self.objection()
        self.op.acting_as("rev").cases.decide(case, "upheld", "it stands")
        return case

    def appeal(self) -> str:
        return str(self.op.cases.appeal(self.upheld(), "again")["case_id"])

    def repair(self) -> str:
        return str(self.op.repairs.apply(self.old.pop(), {
            "obligation_performed": "paid", "commitment": "yes"})["case_id"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("authz")
    clock = Clock("2026-01-05T09:00:00Z")
    op = Service.create(parse_rulebook(CITY, "city.yaml"), str(tmp / "l.db"), clock=clock,
                        catalogue=catalogue_for_tests())
    op.providers.add("court-01", "court")
    op.principals.add("court", "provider", provider="court-01")
    op.principals.add("rp", "relying_party")
    op.principals.add("rev", "reviewer")
    op.principals.add("arev", "appeal_reviewer")
    op.principals.add("aud", "auditor")
    op.principals.add("alice-p", "subject", subject="alice")
    op.principals.add("bob-p", "subject", subject="bob")
    rows = "".join(f"court-01:old{i},court-01,alice,person,court.finding,2026-01-04,x,urn:e,\n"
                   for i in range(40))
    op.records.ingest_text(HEAD + rows + "court-01:b1,court-01,bob,person,court.finding,"
                           "2026-01-04,x,urn:e,\n")
    clock.set("2026-06-01T09:00:00Z")  # past the minimum publication period of 90 days
    yield World(op, clock, tmp, itertools.count(), [f"court-01:old{i}" for i in range(40)])
    op.close()


Call = Callable[[World, Service], Any]
CALLS: dict[str, Call] = {
    "programs.publish": lambda w, s: s.programs.publish(parse_rulebook(CITY, "c.yaml")),
    "programs.read": lambda w, s: s.programs.versions(),
    "catalogues.publish": lambda w, s: s.catalogues.publish(catalogue_for_tests()),
    "catalogues.read": lambda w, s: s.catalogues.list(),
    "providers.add": lambda w, s: s.providers.add("court-01", "court"),
    "providers.list": lambda w, s: s.providers.list(),
    "records.ingest": lambda w, s: s.records.ingest_rows([{
        "record_id": f"court-01:i{next(w.n)}", "provider": "court-01", "subject": "alice",
        "type": "court.finding", "occurred_at": "2026-05-01", "evidence": "urn:e"}]),
    "records.backfill": lambda w, s: s.records.ingest_rows([{
        "record_id": f"court-01:i{next(w.n)}", "provider": "court-01", "subject": "alice",
        "type": "court.finding", "occurred_at": "2026-05-01", "evidence": "urn:e"}],
        backfill=True),
    "records.history": lambda w, s: s.submissions.history(),
    "standings.read": lambda w, s: s.standings.view("alice"),
    "standings.all": lambda w, s: s.standings.all(),
    "decisions.decide": lambda w, s: s.decisions.decide("alice", "rail.ticket"),
    "decisions.log": lambda w, s: s.decisions.log("alice"),
    "decisions.seal": lambda w, s: s.decisions.seal(),
    "population.score": lambda w, s: s.population.score_all(),
    "population.export": lambda w, s: s.population.export(w.tmp / f"x{next(w.n)}"),
    "population.import": lambda w, s: s.population.import_(w.tmp / "no-such-export"),
    "jobs.read": lambda w, s: s.jobs.list(),
    "exports.run": lambda w, s: s.exports.start("file", w.tmp / "exports", subject="alice"),
    "exports.read": lambda w, s: s.exports.list(),
    "lists.public": lambda w, s: s.public.entries(),
    "organizations.name": lambda w, s: s.public.name("alice", "Alice"),  # a person: usage
    "log.read": lambda w, s: s.log.checkpoint(),
    "log.mine": lambda w, s: s.log.mine("alice"),
    "principals.manage": lambda w, s: s.principals.list(),
    "notices.read": lambda w, s: s.notices.of("alice"),
    "alerts.read": lambda w, s: s.notices.alerts(),
    "outbox.run": lambda w, s: s.outbox.run(DeliveryConfig()),
    "cases.object": lambda w, s: s.cases.object(w.record(), "not mine"),
    "cases.appeal": lambda w, s: s.cases.appeal(w.upheld(), "still not mine"),
    "cases.read": lambda w, s: s.cases.get(w.objection()),
    "cases.queue": lambda w, s: s.cases.queue(),
    "cases.decide objection": lambda w, s: s.cases.decide(w.objection(), "upheld", "stands"),
    "cases.decide appeal": lambda w, s: s.cases.decide(w.appeal(), "upheld", "stands"),
    "repair.apply": lambda w, s: s.repairs.apply(w.old.pop(), {
        "obligation_performed": "paid", "commitment": "yes"}),
    "repair.decide": lambda w, s: s.repairs.decide(w.repair(), "granted", "performed"),
    "consent.grant": lambda w, s: s.consents.grant("rp", "bikes", "tier", subject="alice"),
    "consent.list": lambda w, s: s.consents.list("alice"),
    "consent.revoke": lambda w, s: s.consents.revoke(
        w.op.consents.grant("rp", "bikes", "tier", subject="alice")["grant_id"]),
    "file.read": lambda w, s: s.files.of("alice"),
    "access_log.read": lambda w, s: s.access.of("alice"),
    "retention.run": lambda w, s: s.retention.run(),
    "metrics.read": lambda w, s: s.authorize("metrics.read"),
}


def acting(w: World, role: str) -> Service:
    if role == "operator":
        return w.op
    if role == PUBLIC:
        return w.op.acting_as(ANONYMOUS)
    return w.op.acting_as(PRINCIPAL_OF[role])


def outcome(w: World, role: str, name: str) -> tuple[bool, str]:
    try:
        CALLS[name](w, acting(w, role))
    except SocialCreditError as exc:
        return exc.code != "forbidden", f"{exc.code}: {exc.message}"
    return True, "ok"


def test_the_matrix_covers_every_operation() -> None:
    covered = {name.split()[0] for name in EXPECTED}
    assert covered == set(OPERATIONS)
    assert set(CALLS) == set(EXPECTED)


@pytest.mark.parametrize("role", ALL)
def test_every_role_against_every_operation(world: World, role: str) -> None:
    wrong = []
    for name in EXPECTED:
        allowed, why = outcome(world, role, name)
        if allowed != (role in EXPECTED[name]):
            wrong.append(f"{role} × {name}: {'allowed' if allowed else 'refused'} ({why})")
    assert wrong == []


SUBJECT_BOUND: dict[str, Call] = {
    "standings.read": lambda w, s: s.standings.of("alice"),
    "decisions.decide": lambda w, s: s.decisions.decide("alice", "rail.ticket"),
    "decisions.log": lambda w, s: s.decisions.log("alice"),
    "log.mine": lambda w, s: s.log.mine("alice"),
    "notices.read": lambda w, s: s.notices.of("alice"),
    "cases.object": lambda w, s: s.cases.object(w.record(), "not mine"),
    "cases.appeal": lambda w, s: s.cases.appeal(w.upheld(), "not mine"),
    "cases.read": lambda w, s: s.cases.get(w.objection()),
    "repair.apply": lambda w, s: s.repairs.apply(w.old[0], {"commitment": "x"}),
    "consent.grant": lambda w, s: s.consents.grant("rp", "bikes", "tier", subject="alice"),
    "consent.list": lambda w, s: s.consents.list("alice"),
    "consent.revoke": lambda w, s: s.consents.revoke(
        w.op.consents.grant("rp", "bikes", "tier", subject="alice")["grant_id"]),
    "file.read": lambda w, s: s.files.of("alice"),
    "access_log.read": lambda w, s: s.access.of("alice"),
}


@pytest.mark.parametrize("name", sorted(SUBJECT_BOUND))
def test_a_subject_is_refused_everything_about_another(world: World, name: str) -> None:
    bob = world.op.acting_as("bob-p")
    with pytest.raises(SocialCreditError) as caught:
        SUBJECT_BOUND[name](world, bob)
    assert caught.value.code == "forbidden", caught.value.message
    try:  # and is allowed its own (whatever else may then stand in the way)
        SUBJECT_BOUND[name](world, world.op.acting_as("alice-p"))
    except SocialCreditError as exc:
        assert exc.code != "forbidden", exc.message


def test_a_provider_submits_only_its_own_records(world: World) -> None:
    world.op.providers.add("bank-9", "court")
    with pytest.raises(SocialCreditError) as caught:
        world.op.acting_as("court").records.ingest_rows([{
            "record_id": "bank-9:1", "provider": "bank-9", "subject": "alice",
            "type": "court.finding", "occurred_at": "2026-05-01", "evidence": "urn:e"}])
    assert "for provider 'court-01' only" in caught.value.message


def test_a_reviewer_never_acts_for_a_provider_of_records(world: World) -> None:
    """Reviewers file voids as providers registered with the role `reviewer`, so a
    reviewer can never be the provider of the conduct it reviews."""
    with pytest.raises(SocialCreditError) as caught:
        world.op.principals.add("rev-court", "reviewer", provider="court-01")
    assert caught.value.code == "provider.conflict"
    assert "rev-court" not in {p["principal"] for p in world.op.principals.list()}


def test_an_appeal_goes_to_someone_else(world: World) -> None:
    world.op.principals.add("both", "appeal_reviewer")
    case = world.objection()
    # the objection's decider may not decide the appeal: simulate it by deciding as `both`
    # an appeal of an objection `both` is recorded to have decided
    world.op.acting_as("rev").cases.decide(case, "upheld", "stands")
    appeal = world.op.cases.appeal(case, "again")["case_id"]
    from socialcredit.dueprocess import cases as store

    with world.op.ctx.write() as conn:
        c = store.get(conn, case)
        assert c is not None
        c.decided_by = "both"
        store.save(conn, c)
    with pytest.raises(SocialCreditError) as caught:
        world.op.acting_as("both").cases.decide(appeal, "upheld", "still")
    assert caught.value.code == "forbidden" and "decided the objection" in caught.value.message
