"""An ingest's fast paths after the insert — a record notice computes only the listings it
states (`reference.record_entries`), the standings refresh takes new subjects' files
from the batch — leave exactly the ledger the plain path leaves (`ingest.FAST = False`:
every standing computed whole, every file and kind read back from the database).

For random feeds — a few batches days apart, bringing new subjects and touching known
ones, with rulings (listed after a notice period), resolutions, voids, a kind the
program does not apply to, backfilled history, subjects with a delivery address
(their notices are stored and hold their listings: due-process effects), and at times a
second version of the program with a shorter list published before the last batch (a
listing then lasts only while the version in force when the conduct occurred would
also have listed it: rulings alike but for when they occurred differ) — both paths must
leave the same records, subjects, log leaves, notices, deliveries queued, effects,
submissions and materialized standings.

So must a big append that rebuilds the records table's secondary indexes instead of
inserting into them (`Ledger._indexes_rebuilt`, here from the first record on): the same
ledger, and the same indexes after it.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.ledger import store as store_module
from socialcredit.service import ingest as ingest_module
from socialcredit.service.ingest import Located
from socialcredit.timeutil import US_PER_DAY, format_instant
from tests.api.test_submission_columns import _state
from tests.conftest import Clock
from tests.helpers import base_rulebook
from tests.service.test_columnar_ingest import fresh

SUBJECTS = ["s0", "s1", "s2", "s3"]
TYPES = ["ruling", "ruling", "ruling", "arrears", "bonus", "hours", "history", "paid", "void"]
PROVIDER = {"ruling": "court-1", "void": "rev-1"}

#: (days the clock moves on first, backfill?, rows) for each batch
Feed = list[tuple[int, bool, list[dict[str, Any]]]]


@st.composite
def feeds(draw: st.DrawFn) -> tuple[list[str], bool, Feed, bool]:
    """Subjects with an address, whether standings are materialized, the batches, and
    whether a second version is published before the last batch."""
    addressed = draw(st.lists(st.sampled_from(SUBJECTS), max_size=2, unique=True))
    materialized = draw(st.integers(0, 4)) > 0
    stored: list[tuple[str, str, str]] = []  # (record_id, subject, type)
    feed: Feed = []
    clock = 0
    n = 0
    for _ in range(draw(st.integers(1, 3))):
        later = draw(st.sampled_from([0, 1, 5, 11, 40, 120]))
        clock += later
        backfill = draw(st.integers(0, 5)) == 0
        rows = []
        for _ in range(draw(st.integers(1, 8))):
            n += 1
            typ = draw(st.sampled_from(TYPES))
            subject = draw(st.sampled_from(SUBJECTS))
            ref = ""
            if typ in ("paid", "void"):
                mine = [r for r, s, t in stored if s == subject
                        and (typ == "void" or t in ("ruling", "arrears"))]
                if mine:
                    ref = draw(st.sampled_from(mine))
                else:
                    typ = "ruling"
            prov = PROVIDER.get(typ, "bank-1")
            ago = draw(st.sampled_from([0, 0, 1, 3, 9, 30, 200]))
            occurred = format_instant(Clock().now + (clock - ago) * US_PER_DAY
                                      - draw(st.integers(0, 3)) * 3_600_000_000)
            row: dict[str, Any] = {
                "record_id": f"{prov}:r{n}", "provider": prov, "subject": subject,
                "subject_kind": "organization" if draw(st.integers(0, 9)) == 0 else "person",
                "type": typ, "occurred_at": occurred,
                "value": "3" if typ in ("hours", "history") else "",
                "evidence": "urn:ev", "ref": ref}
            if backfill and draw(st.booleans()):
                row["recorded_at"] = occurred  # a pilot's history, with its own time
            rows.append(row)
            stored.append((row["record_id"], subject, typ))
        feed.append((later, backfill, rows))
    return addressed, materialized, feed, draw(st.booleans())


def run(d: Path, name: str, addressed: list[str], materialized: bool, feed: Feed,
        v2: bool = False) -> dict[str, Any]:
    clock = Clock()
    svc = fresh(d, name, clock)
    try:
        for s in addressed:
            svc.principals.add(f"p-{s}", "subject", subject=s, email=f"{s}@example.org")
        if materialized:
            svc.population.score_all()
        for i, (later, backfill, rows) in enumerate(feed):
            clock.now += later * US_PER_DAY
            if v2 and i == len(feed) - 1:
                svc.programs.publish(base_rulebook(**{
                    'version: "1"': 'version: "2"', "notice: 10d": "notice: 3d",
                    "max_duration: 100d": "max_duration: 20d"}))
                clock.now += 3_600_000_000
            svc.records.ingest_numbered(list(enumerate(rows, 1)), Located("feed", "row"),
                                        skip_invalid=True, backfill=backfill)
        state = _state(svc, d / f"{name}.db")
        con = sqlite3.connect(d / f"{name}.db")
        try:
            state["effects"] = con.execute(
                "SELECT subject, record_id, kind, program, list_id, start_at, end_at, case_id, "
                "notice_id IS NULL FROM sc_effects ORDER BY seq").fetchall()
            # deliveries queued, each with its notice's record (notice ids are random)
            state["outbox"] = con.execute(
                "SELECT n.record_id, n.program, o.principal_id, o.channel, o.address, "
                "o.status, o.attempts, o.next_attempt_at, o.created_at FROM sc_outbox o "
                "JOIN sc_notices n ON n.notice_id = o.notice_id ORDER BY o.seq").fetchall()
            state["indexes"] = con.execute(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'index' "
                "ORDER BY name").fetchall()
            state["integrity"] = con.execute("PRAGMA integrity_check").fetchall()
        finally:
            con.close()
        return state
    finally:
        svc.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(feeds())
def test_the_fast_paths_leave_the_ledger_the_plain_path_leaves(
        feed: tuple[list[str], bool, Feed, bool]) -> None:
    addressed, materialized, batches, v2 = feed
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        d = Path(tmp)
        assert ingest_module.FAST
        fast = run(d, "fast", addressed, materialized, batches, v2)
        mp.setattr(ingest_module, "FAST", False)
        plain = run(d, "plain", addressed, materialized, batches, v2)
        mp.setattr(ingest_module, "FAST", True)
        mp.setattr(store_module, "REBUILD_MIN_ROWS", 1)
        rebuilt = run(d, "rebuilt", addressed, materialized, batches, v2)
    assert fast == plain
    assert rebuilt == plain
    assert plain["integrity"] == [("ok",)]


@st.composite
def findings(draw: st.DrawFn) -> tuple[bool, Feed]:
    """One batch of rulings about new subjects, alike but for one or two of what a
    record's listing depends on — when it occurred, its own recorded_at (a backfill),
    its subject's kind — so that records sharing a computation (`notices._alone`,
    `events.listing_events`) must differ where they differ."""
    backfill = draw(st.booleans())
    base = Clock().now
    rows = []
    for i in range(draw(st.integers(2, 12))):
        occurred = format_instant(base - draw(st.sampled_from([0, 1, 30, 200])) * US_PER_DAY)
        row: dict[str, Any] = {
            "record_id": f"court-1:f{i}", "provider": "court-1", "subject": f"n{i}",
            "subject_kind": draw(st.sampled_from(["person", "person", "organization"])),
            "type": "ruling", "occurred_at": occurred, "value": "", "evidence": "urn:ev",
            "ref": ""}
        if backfill and draw(st.booleans()):
            row["recorded_at"] = occurred
        rows.append(row)
    return draw(st.booleans()), [(1, backfill, rows)]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(findings())
def test_findings_alike_share_what_they_share_and_nothing_else(
        batch: tuple[bool, Feed]) -> None:
    materialized, feed = batch
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        d = Path(tmp)
        fast = run(d, "fast", [], materialized, feed)
        mp.setattr(ingest_module, "FAST", False)
        plain = run(d, "plain", [], materialized, feed)
    assert fast == plain
