"""The ledger writes its public events to the transparency log, without personal data."""

from __future__ import annotations

import hashlib
import json

from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.rulebook import parse_rulebook
from socialcredit.transparency import TransparencyLog, merkle
from socialcredit.transparency.events import parse_leaf
from tests.helpers import BASE, catalogue_for_tests

H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}


def events(svc) -> list[dict]:
    log = TransparencyLog(svc.ledger.engine)
    return [parse_leaf(d) for d in log.leaves(0, log.size())]


def test_publication_listing_void_resolution_and_decisions_are_logged(make_ledger, db_url):
    svc = make_ledger(BASE, PROVIDERS)
    ev = events(svc)
    # the catalogue the rulebook cites is published (and logged) before it
    assert ev[0]["kind"] == "catalogue.published"
    assert ev[0]["sha256"] == catalogue_for_tests().sha256
    assert ev[1]["kind"] == "rulebook.published"
    assert ev[1]["sha256"] == parse_rulebook(BASE).sha256
    svc.records.ingest_text(H + "court-1:c1,court-1,alice-ID-123,person,ruling,2025-12-01,,e,\n"
                            "court-1:c2,court-1,bob,person,ruling,2025-12-01,,e,\n")
    svc.records.ingest_text(H + "court-1:r1,court-1,alice-ID-123,,paid,2025-12-20,,e,court-1:c1\n"
                            "rev-1:v1,rev-1,bob,,void,2025-12-21,,e,court-1:c2\n")
    ev = events(svc)
    kinds = [e["kind"] for e in ev]
    assert kinds.count("list.entry") == 2
    assert {"record.resolution", "record.void", "list.exit"} <= set(kinds)
    entry = next(e for e in ev if e["kind"] == "list.entry")
    assert entry["reasons"] == ["court-1:c1"] and entry["list"] == "defaulters"
    raw = b"".join(TransparencyLog(svc.ledger.engine).leaves(0, len(ev)))
    assert b"alice-ID-123" not in raw and b"bob" not in raw  # commitments only

    svc.decisions.decide("alice-ID-123", "train")
    svc.decisions.decide("bob", "train")
    (batch,) = svc.decisions.seal()
    assert batch["count"] == 2
    with svc.ledger.engine.connect() as conn:
        bodies = [b for (b,) in conn.exec_driver_sql(
            "SELECT body FROM sc_decisions ORDER BY seq")]
    h = hashlib.sha256()
    for b in bodies:
        h.update(hashlib.sha256(b.encode()).digest())
    assert batch["digest"] == h.hexdigest()
    assert events(svc)[-1]["kind"] == "decisions.batch"
    assert svc.decisions.seal() == []  # nothing new to seal

    # the subject finds its own leaves with its salt, each with a verifying proof
    res = CliRunner().invoke(app, ["log", "mine", "alice-ID-123", "--db", db_url, "--json"])
    assert res.exit_code == 0, res.output
    mine = json.loads(res.stdout)
    assert {f["event"]["kind"] for f in mine["leaves"]} == {"list.entry", "record.resolution",
                                                           "list.exit"}
    log = TransparencyLog(svc.ledger.engine)
    root = bytes.fromhex(mine["root"])
    for f in mine["leaves"]:
        leaf = merkle.leaf_hash(log.leaves(f["leaf_index"], f["leaf_index"] + 1)[0])
        assert merkle.verify_inclusion(f["leaf_index"], mine["tree_size"], leaf,
                                       [bytes.fromhex(p) for p in f["path"]], root)
    res = CliRunner().invoke(app, ["log", "verify", "--db", db_url])
    assert res.exit_code == 0, res.output


def test_references_inside_one_file_are_logged_as_references_to_stored_records(make_ledger):
    """A resolution or void of a record in the same file (its type found among the
    file's rows, which ingest keeps only for the ids referenced) is logged exactly as
    one of a record already stored (its type read from the ledger); a row that
    references a rejected row of the file is rejected with it."""
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "court-1:c0,court-1,carol,person,ruling,2025-12-01,,e,\n")
    before = len(events(svc))
    svc.records.ingest_text(H + "court-1:c1,court-1,alice,person,ruling,2025-12-01,,e,\n"
                            "court-1:c2,court-1,bob,person,ruling,2025-12-01,,e,\n"
                            "court-1:c3,court-1,dan,person,ruling,2025-12-01,,e,\n"
                            "court-1:r1,court-1,alice,,paid,2025-12-20,,e,court-1:c1\n"
                            "rev-1:v2,rev-1,bob,,void,2025-12-21,,e,court-1:c2\n"
                            "court-1:r0,court-1,carol,,paid,2025-12-20,,e,court-1:c0\n")
    got = sorted((e["kind"], e.get("record_id") or e.get("reasons", [""])[0],
                  e.get("reason", "")) for e in events(svc)[before:]
                 if e["kind"] != "records.batch")
    assert got == sorted([
        ("list.entry", "court-1:c1", ""), ("list.entry", "court-1:c2", ""),
        ("list.entry", "court-1:c3", ""),
        ("record.resolution", "court-1:c1", ""), ("list.exit", "court-1:c1", "resolution"),
        ("record.void", "court-1:c2", ""), ("list.exit", "court-1:c2", "void"),
        ("record.resolution", "court-1:c0", ""), ("list.exit", "court-1:c0", "resolution")])
    # a void of a row rejected in the same file goes with it
    rep = svc.records.ingest_text(
        H + "court-1:c4,court-1,erin,person,ruling,not-a-date,,e,\n"
        "rev-1:v4,rev-1,erin,,void,2025-12-21,,e,court-1:c4\n"
        "court-1:c5,court-1,finn,person,ruling,2025-12-01,,e,\n", skip_invalid=True)
    assert rep.accepted == 1 and rep.rejected == 2
    assert sorted(n for n, _, _ in rep.rejected_rows) == [2, 3]  # lines of c4 and v4
