"""Notice that cannot be skipped, for any ledger (hypothesis): every listing takes effect
no earlier than the moment the ledger knew its trigger plus the notice period — for a
record list, the trigger's transaction time (a backfilled record: when it was
backfilled); for a score list, a time at which the score was already known to be below
the threshold — and no decision denies before then."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from socialcredit.timeutil import US_PER_DAY, format_instant
from tests.conftest import Clock
from tests.helpers import BASE, catalogue_for_tests, day

NOTICE = 10 * US_PER_DAY
SCORE_NOTICE = 5 * US_PER_DAY
CREDIT = ("  - {action: credit, context: finance, effect: deny, when: {on_list: low_score},\n"
          "     measure: ban}\n")
LOW_SCORE = ("  - {id: low_score, kind: black, enter_when: {score_below: 985}, notice: 5d,\n"
             "     legal_basis: law}\n")
RULEBOOK = BASE.replace("consequences:\n", LOW_SCORE + "consequences:\n" + CREDIT)
H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref,recorded_at\n"
SUBJECTS = ("s0", "s1", "s2")


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A backfill of a pilot's history (rows with their own recorded_at), then records
    ingested as they arrive."""
    history: list[str] = []
    for i in range(draw(st.integers(0, 12))):
        subject = draw(st.sampled_from(SUBJECTS))
        typ = draw(st.sampled_from(["ruling", "arrears", "arrears", "bonus"]))
        occurred = draw(st.integers(0, 300))
        recorded = occurred + draw(st.integers(0, 20))
        provider = "court-1" if typ == "ruling" else "bank-1"
        history.append(f"{provider}:h{i},{provider},{subject},person,{typ},"
                       f"{format_instant(day(occurred))},,ev,,{format_instant(day(recorded))}")
    live: list[str] = []
    for i in range(draw(st.integers(0, 8))):
        subject = draw(st.sampled_from(SUBJECTS))
        typ = draw(st.sampled_from(["ruling", "arrears", "arrears"]))
        occurred = draw(st.integers(300, 400))  # late-arriving: recorded at 420
        provider = "court-1" if typ == "ruling" else "bank-1"
        live.append(f"{provider}:l{i},{provider},{subject},person,{typ},"
                    f"{format_instant(day(occurred))},,ev,")
    return history, live


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=batches(), grid=st.lists(st.integers(300, 480), min_size=3, max_size=6))
def test_no_listing_and_no_denial_before_notice(data: tuple[list[str], list[str]],
                                               grid: list[int]) -> None:
    history, live = data
    clock = Clock("2025-01-01T00:00:00Z")
    with tempfile.TemporaryDirectory() as tmp:
        svc = Service.create(parse_rulebook(RULEBOOK), str(Path(tmp) / "n.db"), clock=clock,
                             catalogue=catalogue_for_tests())
        for p, role in {"bank-1": "bank", "court-1": "court"}.items():
            svc.providers.add(p, role)
        clock.now = day(330)
        if history:
            svc.records.ingest_text(H + "\n".join(history) + "\n", backfill=True)
        clock.now = day(420)
        if live:
            svc.records.ingest_text(H.rsplit(",", 1)[0] + "\n"
                                    + "\n".join(live) + "\n")
        clock.now = day(500)
        known = {r.record_id: r.known_at for s in SUBJECTS for r in svc.ledger.records_of(s)}
        for subject in SUBJECTS:
            triggers = [known[r.record_id] for r in svc.ledger.records_of(subject)
                        if r.type == "ruling"]
            for d in grid:
                t = day(d)
                st_ = svc.standings.of(subject, at=t, known_at=t)
                for e in st_.list_entries:
                    assert e.start is not None and e.start <= t
                    if e.list == "defaulters":
                        assert e.record_id is not None
                        assert e.start >= known[e.record_id] + NOTICE
                    else:  # a score list: already known below at notice_from
                        assert e.notice_from is not None
                        assert e.start == e.notice_from + SCORE_NOTICE
                        then = svc.standings.of(subject, at=e.notice_from,
                                                known_at=e.notice_from)
                        assert then.score < 985
                for action, earliest in (("train", min(triggers, default=None)),
                                         ("credit", None)):
                    dec = svc.decisions.decide(subject, action, at=t, record=False)
                    if dec.effect != "deny":
                        continue
                    if action == "train":
                        assert earliest is not None and t >= earliest + NOTICE
                    else:
                        entry = next(e for e in dec.standing.list_entries
                                     if e.list == "low_score")
                        assert entry.notice_from is not None
                        before = svc.standings.of(subject, at=entry.notice_from,
                                                  known_at=entry.notice_from)
                        assert before.score < 985 and t >= entry.notice_from + SCORE_NOTICE
        svc.close()
