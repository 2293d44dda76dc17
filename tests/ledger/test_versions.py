"""Programs and versions: the version in force at (t, k) reproduces any past result."""

from __future__ import annotations

import pytest

from socialcredit.errors import LedgerError
from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from socialcredit.timeutil import BEGINNING_OF_TIME, parse_instant
from tests.helpers import BASE

PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
CSV = ("record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
       "bank-1:b1,bank-1,alice,person,bonus,2025-06-01,,,\n")


def v2(points: int = 50) -> str:
    return BASE.replace('version: "1"', 'version: "2"').replace(
        "{record: bonus, dimension: civic, points: 30}",
        f"{{record: bonus, dimension: civic, points: {points}}}")


def test_first_version_in_force_from_the_beginning_of_time(make_ledger, clock):
    svc = make_ledger(BASE, PROVIDERS)
    (pv,) = svc.ledger.program_versions()
    assert pv.effective_at == BEGINNING_OF_TIME
    assert pv.published_at == clock.now


def test_new_version_with_effective_time_and_reproduction(make_ledger, clock):
    clock.set("2026-01-01T00:00:00Z")
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(CSV)
    clock.set("2026-02-01T00:00:00Z")
    svc.programs.publish(parse_rulebook(v2()), effective=parse_instant("2026-03-01"))
    clock.set("2026-04-01T00:00:00Z")

    def score(at: str, known_at: str | None = None) -> tuple[float, str]:
        st = svc.standings.of("alice", at=parse_instant(at),
                              known_at=None if known_at is None else parse_instant(known_at))
        return st.score, st.rulebook.version

    assert score("2026-02-15") == (1027.0, "1")       # v2 published but not yet effective
    assert score("2026-03-01") == (1047.0, "2")       # effective, inclusive
    assert score("2026-03-15", "2026-01-15") == (1027.0, "1")  # v2 not known at k
    # a decision cites the version in force
    d = svc.decisions.decide("alice", "bike", at=parse_instant("2026-03-02"))
    assert d.as_dict()["rulebook"]["version"] == "2"
    assert d.as_dict()["rulebook"]["sha256"] == parse_rulebook(v2()).sha256


def test_effective_defaults_to_publication_time(make_ledger, clock):
    svc = make_ledger(BASE, PROVIDERS)
    clock.set("2026-05-01T00:00:00Z")
    pv = svc.programs.publish(parse_rulebook(v2()))
    assert pv.effective_at == pv.published_at == parse_instant("2026-05-01")


def test_no_version_in_force_says_when_published(make_ledger, clock):
    clock.set("2026-01-01T00:00:00Z")
    svc = make_ledger(BASE, PROVIDERS)
    with pytest.raises(LedgerError, match="first published at 2026-01-01T00:00:00Z"):
        svc.standings.of("alice", at=parse_instant("2025-06-01"))


def test_republishing_same_version(make_ledger):
    svc = make_ledger(BASE, PROVIDERS)
    svc.programs.publish(parse_rulebook(BASE))  # same content: no-op
    assert len(svc.ledger.program_versions()) == 1
    with pytest.raises(LedgerError, match="already published with other content"):
        svc.programs.publish(parse_rulebook(v2().replace('version: "2"', 'version: "1"')))


def test_several_programs_need_program_choice(make_ledger):
    svc = make_ledger(BASE, PROVIDERS)
    svc.programs.publish(parse_rulebook(BASE.replace("rulebook: test", "rulebook: second")))
    with pytest.raises(LedgerError, match="several programs"):
        svc.standings.of("alice")
    with pytest.raises(LedgerError, match="no program 'third'"):
        svc.standings.of("alice", program="third")
    assert svc.standings.of("alice", program="second").program == "second"


def test_publish_refuses_a_rulebook_crossing_a_line(make_ledger):
    from socialcredit.errors import RefusedRulebook

    svc = make_ledger(BASE, PROVIDERS)
    bad = v2().replace("half_life: 100d, expires: 1y,", "half_life: 100d,")
    with pytest.raises(RefusedRulebook):
        svc.programs.publish(parse_rulebook(bad))
    assert len(svc.ledger.program_versions()) == 1


def test_a_stored_rulebook_that_now_crosses_a_line_stops_operating(make_ledger, clock):
    """If a published rulebook is found to cross a line (say the baseline's word lists
    grew), ingest and decisions refuse it; reading standings stays possible for study."""
    from sqlalchemy import update

    from socialcredit.errors import RefusedRulebook
    from socialcredit.ledger import schema

    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(CSV)
    tail = ",\n     context: civic, item: civic}\n  - {id: hours"
    bad = parse_rulebook(BASE.replace("category: civic_merit" + tail, "category: religion" + tail))
    with svc.ledger.engine.begin() as conn:  # simulate a rulebook stored before the line existed
        conn.execute(update(schema.programs).values(canonical=bad.canonical(), sha256=bad.sha256))
    svc.close()
    svc = Service.open(svc.ledger.url, clock=clock)  # another process opens the ledger
    with pytest.raises(RefusedRulebook, match="religion"):
        svc.decisions.decide("alice", "bike")
    with pytest.raises(RefusedRulebook):
        svc.records.ingest_text(CSV.replace("b1,", "b2,"))
    assert svc.standings.of("alice").score == 1027.0
