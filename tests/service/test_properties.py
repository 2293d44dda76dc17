"""Properties of the ledger that must hold for any input (hypothesis)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from socialcredit.timeutil import format_instant
from tests.conftest import Clock
from tests.helpers import BASE, catalogue_for_tests, day

H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref,recorded_at\n"
PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
SUBJECTS = ("s0", "s1", "s2")
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def ledgers(draw: st.DrawFn) -> list[str]:
    """CSV rows (with recorded_at, for a backfill) incl. resolutions and voids."""
    rows: list[str] = []
    conduct: list[tuple[str, str, str]] = []
    n = draw(st.integers(1, 25))
    for i in range(n):
        subject = draw(st.sampled_from(SUBJECTS))
        type_ = draw(st.sampled_from(["arrears", "bonus", "hours", "history", "ruling"]))
        occurred = draw(st.integers(0, 400))
        recorded = occurred + draw(st.integers(0, 30))
        provider = "court-1" if type_ == "ruling" else "bank-1"
        value = {"hours": str(draw(st.integers(0, 9))),
                 "history": str(draw(st.integers(0, 60)))}.get(type_, "")
        rid = f"{provider}:r{i}"
        rows.append(f"{rid},{provider},{subject},person,{type_},{format_instant(day(occurred))},"
                    f"{value},ev,,{format_instant(day(recorded))}")
        if type_ in ("arrears", "ruling"):
            conduct.append((rid, subject, provider))
    for j, (rid, subject, provider) in enumerate(conduct):
        action = draw(st.sampled_from(["none", "none", "resolve", "void"]))
        when = draw(st.integers(0, 450))
        rec_at = format_instant(day(when + draw(st.integers(0, 20))))
        if action == "resolve":
            rows.append(f"{provider}:x{j},{provider},{subject},,paid,{format_instant(day(when))},,ev,{rid},"
                        f"{rec_at}")
        elif action == "void":
            rows.append(f"rev-1:v{j},rev-1,{subject},,void,{format_instant(day(when))},,ev,{rid},"
                        f"{rec_at}")
    return rows


def fresh(d: Path, name: str, clock: Clock) -> Service:
    """A ledger whose program was published in 2025, before any record's times."""
    now = clock.now
    clock.set("2025-01-01T00:00:00Z")
    svc = Service.create(parse_rulebook(BASE), str(d / f"{name}.db"), clock=clock,
                   catalogue=catalogue_for_tests())
    for p, role in PROVIDERS.items():
        svc.providers.add(p, role)
    clock.now = now
    return svc


def snapshot(svc: Service, points: list[tuple[int, int]]) -> list[tuple]:
    out = []
    for subject in SUBJECTS:
        for t, k in points:
            s = svc.standings.of(subject, at=day(t), known_at=day(k))
            out.append((subject, t, k, round(s.score, 9), s.tier, tuple(s.lists),
                        tuple(sorted((c.record_id, round(c.contribution, 9))
                                     for c in s.contributions))))
    return out


def stable(s) -> dict:
    """Everything a standing says about (t, k); `projection` depends on when one asks."""
    d = s.as_dict()
    del d["projection"]
    return d


TIMES = [(100, 100), (300, 200), (500, 500), (500, 60), (900, 900)]


@SETTINGS
@given(rows=ledgers(), order=st.randoms(use_true_random=False))
def test_ingestion_order_does_not_matter(rows: list[str], order) -> None:
    shuffled = list(rows)
    order.shuffle(shuffled)
    clock = Clock("2030-01-01T00:00:00Z")
    with tempfile.TemporaryDirectory() as tmp:
        a, b = fresh(Path(tmp), "a", clock), fresh(Path(tmp), "b", clock)
        a.records.ingest_text(H + "\n".join(rows) + "\n", backfill=True)
        # b: shuffled, in two files; references first land in the same file as their target
        b.records.ingest_text(H + "\n".join(shuffled) + "\n", backfill=True)
        assert snapshot(a, TIMES) == snapshot(b, TIMES)
        a.close()
        b.close()


@SETTINGS
@given(rows=ledgers())
def test_reingesting_is_a_no_op(rows: list[str]) -> None:
    clock = Clock("2030-01-01T00:00:00Z")
    with tempfile.TemporaryDirectory() as tmp:
        svc = fresh(Path(tmp), "a", clock)
        text = H + "\n".join(rows) + "\n"
        first = svc.records.ingest_text(text, backfill=True)
        before = snapshot(svc, TIMES)
        n = svc.ledger.count_records()
        again = svc.records.ingest_text(text, backfill=True)
        assert again.accepted == 0 and again.duplicates == first.accepted
        assert svc.ledger.count_records() == n
        assert snapshot(svc, TIMES) == before
        svc.close()


@SETTINGS
@given(rows=ledgers(), later=ledgers(), t=st.integers(0, 900))
def test_standing_at_t_k_never_changes_when_later_records_arrive(rows, later, t) -> None:
    clock = Clock("2027-06-01T00:00:00Z")
    with tempfile.TemporaryDirectory() as tmp:
        svc = fresh(Path(tmp), "a", clock)
        # first batch: recorded by the ledger's clock at k
        plain = [",".join(r.split(",")[:9]) for r in rows]
        svc.records.ingest_text(H.rsplit(",", 1)[0] + "\n" + "\n".join(plain) + "\n")
        k = clock.now
        before = [stable(svc.standings.of(s, at=day(t), known_at=k))
                  for s in SUBJECTS]
        # later records (new ids) arrive after k
        clock.set("2027-07-01T00:00:00Z")
        renamed = []
        for row in later:
            f = row.split(",")[:9]
            f[0] = f[0] + "L"
            f[8] = f[8] + "L" if f[8] else ""
            renamed.append(",".join(f))
        # and a reviewer voids an early record, after k: it must not reach back
        early = next((r.split(",") for r in plain if r.split(",")[4] in ("arrears", "ruling")),
                     None)
        if early is not None:
            renamed.append(f"rev-1:Lvoid,rev-1,{early[2]},,void,2026-01-01,,ev,{early[0]}")
        svc.records.ingest_text(H.rsplit(",", 1)[0] + "\n" + "\n".join(renamed) + "\n")
        after = [stable(svc.standings.of(s, at=day(t), known_at=k))
                 for s in SUBJECTS]
        assert before == after
        svc.close()
