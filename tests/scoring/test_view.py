"""The reference engine's fast paths equal its plain ones, for random rulebooks, ledgers
and histories (tests/scoring/test_batch_engine.py's strategies):

- its view of the ledger (`_View`), built in one pass where no void is known, equals
  the view the contract's clauses spell (known at k, voids withdrawn, resolutions and
  records by type), voids or not;
- a standing under a history whose every version has the rulebook's own rules skips
  lex mitior for records at or after the first version took effect: it equals the
  standing under the same history told apart by sha256 (the full comparison, rule by
  rule, which finds no milder rule)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.ledger import Record
from socialcredit.ledger.model import ProgramVersion
from socialcredit.rulebook import Rulebook
from socialcredit.scoring import reference
from socialcredit.timeutil import BEGINNING_OF_TIME, US_PER_DAY
from tests.scoring.test_batch_engine import SUBJECTS, T0, ledgers, rulebooks, times


def plain_view(records: list[Record], t: int, k: int, by_knowledge: bool
               ) -> tuple[dict[str, list[Record]], dict[str, Record]]:
    """(records by type, first resolution by target), as the contract's clauses say."""
    known = [r for r in records if (r.known_at if by_knowledge else r.recorded_at) <= k]
    voided = {r.ref for r in known if r.kind == "void" and r.ref}
    by_type: dict[str, list[Record]] = {}
    first: dict[str, Record] = {}
    for r in known:
        if r.record_id in voided:
            continue
        if r.kind == "resolution":
            if r.ref and r.occurred_at <= t:
                cur = first.get(r.ref)
                if cur is None or (r.occurred_at, r.record_id) < (cur.occurred_at,
                                                                    cur.record_id):
                    first[r.ref] = r
        elif r.kind != "void" and r.occurred_at <= t:
            by_type.setdefault(r.type, []).append(r)
    return by_type, first


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=ledgers(), t=times, dk=st.integers(-6, 6), by_knowledge=st.booleans(),
       voids=st.booleans())
def test_the_view_is_the_clauses(records: list[Record], t: int, dk: int,
                                 by_knowledge: bool, voids: bool) -> None:
    if not voids:  # the one-pass case, drawn as often as the other
        records = [r for r in records if r.kind != "void"]
    k = t + dk * US_PER_DAY // 2
    for subject, _ in SUBJECTS:
        mine = [r for r in records if r.subject == subject]
        view = reference._View(mine, t, k, by_knowledge)
        assert (view.by_type, view.first_resolution) == plain_view(mine, t, k, by_knowledge)
        again = reference._View(iter(mine), t, k, by_knowledge)  # any iterable
        assert (again.by_type, again.first_resolution) == (view.by_type,
                                                           view.first_resolution)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rb=rulebooks(), records=ledgers(), t=times, dk=st.integers(-6, 6),
       first=st.integers(-2, 12), second=st.integers(0, 12))
def test_a_history_of_the_same_rules_is_no_lex_mitior(rb: Rulebook, records: list[Record],
                                                      t: int, dk: int, first: int,
                                                      second: int) -> None:
    k = t + dk * US_PER_DAY // 2
    eff1 = BEGINNING_OF_TIME if first < 0 else T0 + first * US_PER_DAY // 2
    eff2 = T0 + second * US_PER_DAY // 2
    pub = T0 - US_PER_DAY
    same = [ProgramVersion("prop", "1", eff1, pub, rb.sha256, rb, 1),
            ProgramVersion("prop", "2", eff2, eff2, rb.sha256, rb, 2)]
    # the same rules under another version name: another sha256, so every record is
    # compared rule by rule with its counterpart
    twin = Rulebook.model_validate({**rb.model_dump(exclude_none=True), "version": "twin"})
    assert twin.sha256 != rb.sha256
    told_apart = [ProgramVersion("prop", "1", eff1, pub, twin.sha256, twin, 1),
                  ProgramVersion("prop", "2", eff2, eff2, twin.sha256, twin, 2)]
    for subject, kind in SUBJECTS:
        mine = [r for r in records if r.subject == subject]
        fast = reference.standing(rb, subject, kind, mine, t, k, history=same)
        full = reference.standing(rb, subject, kind, mine, t, k, history=told_apart)
        assert fast == full
