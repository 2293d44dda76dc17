"""`socialcredit verify`: the ledger checked against its public log, trusting neither.

`log verify` proves the log is what its signed checkpoints say. This goes on to prove
that the ledger's rows are what the log says they were:

- every record is re-hashed (ledger/digest.py) and every ingest batch's count and Merkle
  root recomputed against its `records.batch` leaf; records the log names (listings,
  voids, resolutions) must exist;
- every rulebook row is re-hashed against its `rulebook.published` leaf (its stored JSON
  against its sha256, its sha256 and dates against the leaf, its source text against
  the rulebook), and every decision's rulebook must be one the log published;
- every sealed decision batch is re-hashed against its `decisions.batch` leaf, seq by
  seq, so a changed or deleted sealed decision is named; a decision's columns must say
  what its body says;
- every provider row must match its `provider.registered` leaf.

Problems name the row: `record 'court-01:b9'`, `decision 3f2… (seq 12)`, `rulebook
rongcheng 2026.1`, `provider 'bank-01'`, `batch 7 (leaf 41)`. Someone who rewrites a row
*and* the hash stored beside it (the record's digest, a seal's digest) is caught by the
batch's root, which the log holds; the report then names the batch, not the row, because
the log keeps one root per batch, not a hash per row.

What a ledger stored before revision 0201 carried no batch leaves and no provider
leaves: those rows are counted in the notes and vouched for only as far as the old
leaves reach (rulebooks, sealed decisions, records named by listings). The boundary is
written at upgrade (`legacy.records_max_seq`, `legacy.providers` in sc_meta).
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.decisions.log import body_digest
from socialcredit.ledger import schema as s
from socialcredit.ledger.digest import record_hash
from socialcredit.ledger.store import Ledger
from socialcredit.rulebook.loader import parse_rulebook
from socialcredit.timeutil import format_instant
from socialcredit.transparency import merkle
from socialcredit.transparency.schema import leaves
from socialcredit.transparency.verify import Problem, VerifyReport, verify_log

_PLACEHOLDER = b"\xff" * 32
MAX_NAMED = 20  # seqs named per deficient batch


@dataclass
class LedgerReport:
    """The log's own report, and what the ledger's rows say against it."""

    log: VerifyReport
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records: int = 0
    batches: int = 0
    decisions: int = 0
    sealed: int = 0
    rulebooks: int = 0
    providers: int = 0

    @property
    def ok(self) -> bool:
        return self.log.ok and not self.problems

    def add(self, what: str, ref: int | str | None, message: str) -> None:
        self.problems.append(Problem(what, ref, message))

    def named(self, what: str) -> list[int | str | None]:
        return [p.ref for p in self.problems if p.what == what]

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "log": self.log.to_json(),
                "ledger": {"ok": not self.problems, "records": self.records,
                           "batches": self.batches, "decisions": self.decisions,
                           "sealed_decisions": self.sealed, "rulebooks": self.rulebooks,
                           "providers": self.providers,
                           "problems": [p.to_json() for p in self.problems],
                           "notes": self.notes}}


@dataclass
class _Leaves:
    """What the log says about the ledger's rows, by kind."""

    published: dict[tuple[str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)
    batches: dict[int, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    decisions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    providers: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    named_records: dict[str, tuple[int, str]] = field(default_factory=dict)


def _stream_leaves(conn: Connection, chunk: int = 20_000) -> Iterator[tuple[int, Any]]:
    pos = -1
    while True:
        rows = conn.execute(select(leaves.c.idx, leaves.c.data).where(leaves.c.idx > pos)
                            .order_by(leaves.c.idx).limit(chunk)).all()
        if not rows:
            return
        yield from ((int(i), d) for i, d in rows)
        pos = int(rows[-1][0])


def _read_leaves(conn: Connection, report: LedgerReport) -> _Leaves:
    out = _Leaves()
    for idx, data in _stream_leaves(conn):
        try:
            raw = data if isinstance(data, bytes | memoryview) else str(data).encode()
            ev = json.loads(bytes(raw))
            kind = ev["kind"]
        except (ValueError, KeyError, TypeError):
            continue  # log verify names a damaged leaf
        if kind == "rulebook.published":
            out.published[(str(ev["program"]), str(ev["version"]))] = (idx, ev)
        elif kind == "records.batch":
            batch = int(ev["batch"])
            if batch in out.batches:
                report.add("batch", batch, f"batch {batch} is committed twice (leaves "
                                           f"{out.batches[batch][0]} and {idx})")
            out.batches[batch] = (idx, ev)
        elif kind == "decisions.batch":
            out.decisions.append((idx, ev))
        elif kind == "provider.registered":
            out.providers[str(ev["provider"])] = (idx, ev)
        elif kind == "list.entry":
            for rid in ev.get("reasons") or ():
                out.named_records.setdefault(str(rid), (idx, kind))
        elif kind in ("record.void", "record.resolution", "list.exit"):
            for key in ("record_id", "void_record_id", "resolution_record_id"):
                if ev.get(key):
                    out.named_records.setdefault(str(ev[key]), (idx, kind))
    return out


def _meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).scalar()


# --------------------------------------------------------------------------- rulebooks


def _rulebooks(conn: Connection, log: _Leaves, report: LedgerReport) -> None:
    unseen = dict(log.published)
    for row in conn.execute(select(s.programs).order_by(s.programs.c.seq)).mappings():
        report.rulebooks += 1
        program, version, sha = str(row["program"]), str(row["version"]), str(row["sha256"])
        name = f"rulebook {program} version {version}"
        ref = f"{program} {version}"
        actual = hashlib.sha256(str(row["canonical"]).encode("utf-8")).hexdigest()
        if actual != sha:
            report.add("rulebook", ref, f"{name}: its stored rulebook (JSON) hashes to "
                                        f"{actual[:16]}…, not to its sha256 {sha[:16]}…: "
                                        "it was edited after publication")
        leaf = unseen.pop((program, version), None)
        if leaf is None:
            report.add("rulebook", ref, f"{name}: no rulebook.published leaf publishes it: "
                                        "the row was inserted behind the log's back")
        else:
            idx, ev = leaf
            if ev.get("sha256") != sha:
                report.add("rulebook", ref, f"{name}: its sha256 {sha[:16]}… is not the "
                                            f"{str(ev.get('sha256'))[:16]}… published in "
                                            f"leaf {idx}")
            for col in ("effective_at", "published_at"):
                if col in ev and ev[col] != format_instant(int(row[col])):
                    report.add("rulebook", ref, f"{name}: {col} "
                                                f"{format_instant(int(row[col]))} is not the "
                                                f"{ev[col]} published in leaf {idx}")
        if row["source"]:
            try:
                from_source = parse_rulebook(str(row["source"]), name).sha256
            except Exception:  # any failure to load means the text was altered
                from_source = None
            if from_source != sha:
                report.add("rulebook", ref, f"{name}: its source text does not give its "
                                            "sha256: one of them was edited after "
                                            "publication")
    for (program, version), (idx, _) in unseen.items():
        report.add("rulebook", f"{program} {version}",
                   f"rulebook {program} version {version}, published in leaf {idx}, is not "
                   "in the ledger: its row was deleted")


# --------------------------------------------------------------------------- providers


def _providers(conn: Connection, log: _Leaves, report: LedgerReport) -> None:
    legacy = set(json.loads(_meta(conn, "legacy.providers") or "[]"))
    unseen = dict(log.providers)
    old = 0
    for row in conn.execute(select(s.providers).order_by(s.providers.c.provider)).mappings():
        report.providers += 1
        p, role, at = str(row["provider"]), str(row["role"]), int(row["registered_at"])
        leaf = unseen.pop(p, None)
        if leaf is None:
            if p in legacy:
                old += 1
                continue
            report.add("provider", p, f"provider {p!r} (role {role!r}) has no "
                                      "provider.registered leaf: it was registered behind "
                                      "the log's back")
            continue
        idx, ev = leaf
        if ev.get("role") != role:
            report.add("provider", p, f"provider {p!r} has role {role!r} in the ledger, but "
                                      f"leaf {idx} registered it as {ev.get('role')!r}")
        if ev.get("registered_at") != format_instant(at):
            report.add("provider", p, f"provider {p!r}: registered_at {format_instant(at)} "
                                      f"is not the {ev.get('registered_at')} of leaf {idx}")
    for p, (idx, ev) in unseen.items():
        report.add("provider", p, f"provider {p!r} (role {ev.get('role')!r}), registered in "
                                  f"leaf {idx}, is not in the ledger: its row was deleted")
    if old:
        report.notes.append(f"{old} provider(s) were registered before this ledger logged "
                            "registrations (revision 0201): verify cannot vouch for their "
                            "roles")


# --------------------------------------------------------------------------- records


@dataclass
class _Batch:
    count: int = 0
    recomputed: merkle.CompactRange = field(default_factory=merkle.CompactRange)
    named: int = 0


_RECORD_COLS = (s.records.c.seq, s.records.c.record_id, s.records.c.provider,
                s.records.c.subject, s.records.c.type, s.records.c.kind,
                s.records.c.occurred_at, s.records.c.recorded_at, s.records.c.value_num,
                s.records.c.value_text, s.records.c.evidence, s.records.c.ref,
                s.records.c.ingested_at, s.records.c.batch, s.records.c.digest)


def _stream_records(conn: Connection, chunk: int = 20_000) -> Iterator[Any]:
    pos: int | None = None
    while True:
        q = select(*_RECORD_COLS).order_by(s.records.c.seq).limit(chunk)
        if pos is not None:
            q = q.where(s.records.c.seq > pos)
        rows = conn.execute(q).all()
        if not rows:
            return
        yield from rows
        pos = int(rows[-1][0])


def _records(conn: Connection, ledger: Ledger, log: _Leaves, report: LedgerReport) -> None:
    legacy_max = _meta(conn, "legacy.records_max_seq")
    legacy_below = int(legacy_max) if legacy_max is not None else None
    states: dict[int, _Batch] = {}
    legacy = 0
    for row in _stream_records(conn):
        report.records += 1
        seq, rid, batch, digest = int(row[0]), row[1], row[13], row[14]
        who = f"record {rid!r} (seq {seq}"
        if batch is None:
            if legacy_below is not None and seq <= legacy_below:
                legacy += 1
                continue
            report.add("record", rid, f"{who}) belongs to no ingest batch: it was inserted "
                                      "behind the log's back")
            continue
        batch = int(batch)
        leaf = log.batches.get(batch)
        if leaf is None:
            report.add("record", rid, f"{who}) claims batch {batch}, which no records.batch "
                                      "leaf commits to: it was inserted behind the log's back")
            continue
        idx, ev = leaf
        if not int(ev["first_seq"]) <= seq <= int(ev["last_seq"]):
            report.add("record", rid, f"{who}) claims batch {batch} but lies outside its "
                                      f"seqs {ev['first_seq']}..{ev['last_seq']} (leaf {idx}): "
                                      "it was inserted behind the log's back")
            continue
        st = states.setdefault(batch, _Batch())
        st.count += 1
        try:
            h = record_hash(tuple(row[1:13]))
        except (TypeError, ValueError):
            h = _PLACEHOLDER
        st.recomputed.append(h)
        stored = bytes(digest) if isinstance(digest, bytes | memoryview) else None
        if h != stored:
            st.named += 1
            report.add("record", rid, f"{who}, batch {batch}): its fields no longer give the "
                                      "hash stored when it was ingested: it was changed "
                                      "after it was stored")
    for batch, (idx, ev) in sorted(log.batches.items()):
        report.batches += 1
        st = states.get(batch, _Batch())
        want, first, last = int(ev["count"]), int(ev["first_seq"]), int(ev["last_seq"])
        where = f"batch {batch} (leaf {idx}, seqs {first}..{last})"
        if st.count < want:
            report.add("batch", batch, f"{where}: holds {st.count} of the {want} records its "
                                       f"leaf commits to: {want - st.count} deleted"
                                       + _gaps(conn, ledger, first, last))
        elif st.count > want:
            report.add("batch", batch, f"{where}: holds {st.count} records, its leaf commits "
                                       f"to {want}: {st.count - want} inserted")
        elif st.named == 0 and st.recomputed.root().hex() != ev["root"]:
            report.add("batch", batch, f"{where}: its records no longer give the root its "
                                       "leaf commits to: a record was rewritten together "
                                       "with its stored hash")
    if legacy:
        report.notes.append(
            f"{legacy} record(s) were stored before this ledger committed ingest batches to "
            "the log (revision 0201): verify cannot vouch for their content; only the ones "
            "the log names (listings, voids, resolutions) are checked to exist")
    missing = sorted(set(log.named_records) - {
        r[0] for r in ledger.fetch_by(conn, s.records.c.record_id, list(log.named_records),
                                      s.records.c.record_id)})
    for rid in missing:
        idx, kind = log.named_records[rid]
        report.add("record", rid, f"record {rid!r}, named by leaf {idx} ({kind}), is not in "
                                  "the ledger: it was deleted")


def _gaps(conn: Connection, ledger: Ledger, first: int, last: int) -> str:
    """Where the deleted records sat: the seqs of the batch's range no row holds."""
    if last - first > 1_000_000:
        return ""
    c = s.records.c
    have = {int(q) for (q,) in conn.execute(select(c.seq).where(c.seq.between(first, last)))}
    gone = [q for q in range(first, last + 1) if q not in have]
    if not gone:
        return ""
    shown = ", ".join(str(q) for q in gone[:MAX_NAMED])
    more = f" and {len(gone) - MAX_NAMED} more" if len(gone) > MAX_NAMED else ""
    return f" (no record at seq {shown}{more})"


# --------------------------------------------------------------------------- decisions


@dataclass
class _Seal:
    idx: int
    ev: dict[str, Any]
    seqs: list[int]
    hash: Any = field(default_factory=hashlib.sha256)
    seen: int = 0
    named: int = 0
    at: int = 0  # position in `seqs` of the next expected seq


def _decisions(conn: Connection, log: _Leaves, report: LedgerReport) -> None:
    seals: list[_Seal] = []
    by_seq: dict[int, _Seal] = {}
    ranges: list[tuple[int, int, _Seal]] = []
    for idx, ev in log.decisions:
        if "seqs" in ev:
            seal = _Seal(idx, ev, [int(q) for q in ev["seqs"]])
            by_seq.update((q, seal) for q in seal.seqs)
        elif "first_seq" in ev and "last_seq" in ev:
            seal = _Seal(idx, ev, [])
            ranges.append((int(ev["first_seq"]), int(ev["last_seq"]), seal))
        else:
            continue
        seals.append(seal)
    ranges.sort(key=lambda r: r[0])
    starts = [r[0] for r in ranges]

    def cover(seq: int) -> _Seal | None:
        if seq in by_seq:
            return by_seq[seq]
        i = bisect.bisect_right(starts, seq) - 1
        if i >= 0 and ranges[i][0] <= seq <= ranges[i][1]:
            return ranges[i][2]
        return None

    sealed = {int(q): (bytes(d) if d is not None else None) for q, d in conn.execute(
        select(s.sealed_decisions.c.seq, s.sealed_decisions.c.digest))}
    published = {(p, v): str(ev.get("sha256")) for (p, v), (_, ev) in log.published.items()}
    unsealed = 0
    d = s.decisions.c
    for row in conn.execute(select(d.seq, d.decision_id, d.decided_at, d.at, d.known_at,
                                   d.subject, d.action, d.program, d.version, d.sha256,
                                   d.effect, d.body).order_by(d.seq)).mappings():
        report.decisions += 1
        seq, did, body = int(row["seq"]), str(row["decision_id"]), str(row["body"])
        who = f"decision {did} (seq {seq})"
        _decision_columns(row, who, published, report)
        covering = cover(seq)
        if covering is None:
            if seq in sealed:
                report.add("decision", seq, f"{who} is marked sealed but no decisions.batch "
                                            "leaf covers it: it was inserted behind the "
                                            "log's back")
            else:
                unsealed += 1
            continue
        report.sealed += 1
        _advance(covering, seq, report)
        covering.seen += 1
        digest = body_digest(body)
        covering.hash.update(digest)
        if seq not in sealed:
            report.add("decision", seq, f"{who}, sealed in leaf {covering.idx}, has lost its "
                                        "seal row")
        elif sealed[seq] is not None and sealed[seq] != digest:
            covering.named += 1
            report.add("decision", seq, f"{who}: its body changed after it was sealed in "
                                        f"leaf {covering.idx}")
    for seal in seals:
        _advance(seal, None, report)
        ev = seal.ev
        if (seal.seen == int(ev.get("count", -1)) and seal.named == 0
                and seal.hash.hexdigest() != ev.get("digest")):
            report.add("decision", f"leaf {seal.idx}",
                       f"decisions.batch leaf {seal.idx} (program {ev.get('program')}, "
                       f"{ev.get('count')} decisions): the decisions stored there no longer "
                       "give its digest: one was changed together with its seal digest")
    if unsealed:
        report.notes.append(f"{unsealed} decision(s) are not sealed yet: the log vouches for "
                            "them only once they are sealed")


def _advance(seal: _Seal, seq: int | None, report: LedgerReport) -> None:
    """Name the seqs a seal covers that the stream skipped (deleted decisions)."""
    ev = seal.ev
    expected: Sequence[int] = seal.seqs or range(int(ev["first_seq"]), int(ev["last_seq"]) + 1)
    stop = len(expected) if seq is None else bisect.bisect_left(expected, seq)
    for i in range(seal.at, stop):
        q = expected[i]
        report.add("decision", q, f"decision seq {q}, sealed in leaf {seal.idx} (program "
                                  f"{ev.get('program')}), is missing: it was deleted")
    seal.at = max(seal.at, stop + (0 if seq is None else 1))


def _decision_columns(row: Any, who: str, published: dict[tuple[str, str], str],
                      report: LedgerReport) -> None:
    """A decision's columns (what queries filter on) must say what its body says, and it
    must have been made under a rulebook the log published."""
    seq = int(row["seq"])
    key = (str(row["program"]), str(row["version"]))
    if published.get(key) != row["sha256"]:
        report.add("decision", seq, f"{who} names rulebook {key[0]} version {key[1]} with "
                                    f"sha256 {str(row['sha256'])[:16]}…, which no "
                                    "rulebook.published leaf carries")
    try:
        body = json.loads(row["body"])
        rb = body.get("rulebook") or {}
        said = {"decision_id": body.get("decision_id"), "subject": body.get("subject"),
                "action": body.get("action"), "program": body.get("program"),
                "effect": body.get("effect"), "version": rb.get("version"),
                "sha256": rb.get("sha256"), "decided_at": body.get("decided_at"),
                "at": body.get("at"), "known_at": body.get("known_at")}
    except (ValueError, AttributeError):
        report.add("decision", seq, f"{who}: its body is not a decision")
        return
    for col, value in said.items():
        stored = row[col]
        if col in ("decided_at", "at", "known_at"):
            stored = format_instant(int(stored))
        if stored != value:
            report.add("decision", seq, f"{who}: its {col} column says {stored!r} but its "
                                        f"body says {value!r}")


# --------------------------------------------------------------------------- entry point


def verify_ledger(ledger: Ledger, pubkey: str | None = None) -> LedgerReport:
    """The log (`verify_log`), then every ledger row against it, in one snapshot."""
    report = LedgerReport(verify_log(ledger.engine, pubkey))
    eng = ledger.engine
    if eng.dialect.name == "postgresql":
        eng = eng.execution_options(isolation_level="REPEATABLE READ")
    with eng.connect() as conn, conn.begin():
        log = _read_leaves(conn, report)
        _rulebooks(conn, log, report)
        _providers(conn, log, report)
        _records(conn, ledger, log, report)
        _decisions(conn, log, report)
    return report


__all__ = ["LedgerReport", "verify_ledger"]
