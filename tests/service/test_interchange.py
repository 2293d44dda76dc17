"""Export and import: an imported ledger is the same ledger, public log included.

Import goes through ingest's own path (and publishes programs through `publish`), so a
ledger built from an export has the same public log — publications, listings, voids,
listing-ending resolutions — as the one built by ingest.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from socialcredit.transparency.events import parse_leaf
from tests.helpers import BASE

H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
SECOND = BASE.replace("rulebook: test", "rulebook: second").replace(
    "defaulters", "other_list")


def kinds(svc: Service) -> Counter[tuple[str, str]]:
    """(kind, program or list) of every leaf: what the public log says happened. Record
    batches are left out: they say how the records arrived (an import brings them
    bucket by bucket), not what happened to anyone."""
    out: Counter[tuple[str, str]] = Counter()
    for _, data, _ in svc.log.leaves():
        e = parse_leaf(data)
        if e["kind"] == "records.batch":
            continue
        out[(e["kind"], str(e.get("list") or e.get("program") or ""))] += 1
    return out


def build_source(make_ledger, clock) -> Service:
    svc = make_ledger(BASE, PROVIDERS)
    svc.programs.publish(parse_rulebook(SECOND, "second.yaml"))
    clock.set("2026-01-10T00:00:00Z")
    svc.records.ingest_text(H + "court-1:c1,court-1,alice,person,ruling,2026-01-05,,e,\n"
                                "court-1:c2,court-1,bob,person,ruling,2026-01-06,,e,\n"
                                "bank-1:a1,bank-1,carol,person,arrears,2026-01-01,,e,\n"
                                "court-1:c3,court-1,dave,person,ruling,2026-01-07,,e,\n")
    clock.set("2026-02-01T00:00:00Z")
    svc.records.ingest_text(H + "court-1:p1,court-1,alice,,paid,2026-01-20,,e,court-1:c1\n"
                                "rev-1:v1,rev-1,bob,,void,2026-01-25,,e,court-1:c2\n")
    return svc


def test_an_imported_ledger_has_the_same_public_log(make_ledger, clock, tmp_path: Path):
    source = build_source(make_ledger, clock)
    source.population.export(tmp_path / "exp", buckets=3)
    clock.set("2026-03-01T00:00:00Z")
    with Service.create_empty(f"sqlite:///{tmp_path / 'copy.db'}", clock=clock) as copy:
        rep = copy.population.import_(tmp_path / "exp")
        assert (rep.programs, rep.records, rep.subjects) == (2, 6, 4)
        want, got = kinds(source), kinds(copy)
        assert got == want
        # both programs' publications, each list's entries, the void and the resolution
        assert got[("rulebook.published", "test")] == 1
        assert got[("rulebook.published", "second")] == 1
        assert got[("list.entry", "defaulters")] == 3
        assert got[("list.entry", "other_list")] == 3
        assert got[("record.void", "")] == 1
        assert got[("record.resolution", "defaulters")] == 1
        # the listings state the same dates (notice from the original recorded_at)
        def entries(svc: Service) -> list[tuple[str, str, str]]:
            return sorted((e["list"], e["start"], e["end"]) for e in
                          (parse_leaf(d) for _, d, _ in svc.log.leaves())
                          if e["kind"] == "list.entry")
        assert entries(copy) == entries(source)
        for subject in ("alice", "bob", "carol", "dave"):
            for program in ("test", "second"):
                a = source.standings.of(subject, program, clock.now)
                b = copy.standings.of(subject, program, clock.now)
                assert (a.score, a.lists, [e.as_dict() for e in a.list_entries]) == (
                    b.score, b.lists, [e.as_dict() for e in b.list_entries])
        assert copy.log.verify().ok
        assert copy.log.verify_ledger().ok
        # importing again adds nothing, not even leaves
        size = copy.log.tree.size()
        again = copy.population.import_(tmp_path / "exp")
        assert (again.records, again.duplicates, again.programs) == (0, 6, 0)
        assert copy.log.tree.size() == size


def test_import_is_all_or_nothing(make_ledger, clock, tmp_path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import pytest

    from socialcredit.errors import IngestError

    source = build_source(make_ledger, clock)
    source.population.export(tmp_path / "exp", buckets=1)
    f = next((tmp_path / "exp" / "records").glob("bucket=*/*.parquet"))
    t = pq.read_table(f)
    ev = t.column("evidence").to_pylist()
    ev[0] = None  # a court record without its required evidence
    pq.write_table(t.set_column(t.schema.get_field_index("evidence"), "evidence",
                                pa.array(ev, pa.string())), f)
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    with Service.create_empty(target, clock=clock) as copy:
        with pytest.raises(IngestError, match="evidence: required"):
            copy.population.import_(tmp_path / "exp")
        assert copy.ledger.program_versions() == []  # not even the programs
        assert copy.ledger.count_records() == 0
        assert copy.log.tree.size() == 0
