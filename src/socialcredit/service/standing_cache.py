"""Materialized standings read in microseconds: an in-process cache of rows, exact.

A decision read from the materialized table needs, besides the row, the ledger's last
transaction time, the program's versions and whether due process touches the subject.
Asking the database for each costs far more than the decision itself, so this cache
keeps them in memory, keyed by (program, subject), and knows when they may have changed:

- **What can make a cached entry wrong**: a record about the subject (ingest rewrites
  its row in the same transaction), a due-process effect on it (added, ended or
  cancelled), a new program version. Decay, expiry and the other discrete changes are
  not changes of the data: every read evaluates the row at its own instant and
  recomputes it when that instant is not before the row's ``valid_until``
  (scoring/exact.py).
- **How it notices** (SQLite): one ``PRAGMA data_version`` on a connection of its own
  per read — it changes when any other connection, in this process or another, commits.
  (Not the WAL index's header read from the ``-shm`` file, though cheaper: SQLite's
  POSIX locks on a file belong to the process, and closing any other descriptor of the
  file drops them — SQLite's "How To Corrupt An SQLite Database File", 2.2; a test run
  with it died of SIGBUS inside a commit.) Only then
  does it read a fingerprint: the clock's last transaction time, the highest
  record seq (records are appended under the write lock, so seqs follow commit order),
  the highest program version seq, and a digest of the effects table (count, highest
  seq, sum of end times: any insert, end or cancel changes it). New records drop the
  entries of their subjects only; effects or versions drop every entry. Commits that
  change none of these — decision logs, access logs, notices — drop nothing.
- **Consent grants** of a subject to a relying party are kept too (a decision for a
  relying party needs them): a grant and a revocation each write an entry of the
  operations log under the ledger's write lock, so the highest operations seq, part of
  the fingerprint, changes with them; a change drops the grants only.
- On PostgreSQL there is no data_version: every read fetches the fingerprint, in the
  read transaction the decision uses for anything else it must read (one round trip).
- **A subject's records** are kept too, for live standings (a busy subject's thousand
  records cost more to fetch and build than to score). Each read checks the kept copy
  against the subject's mark in the reader's own transaction — (count, highest seq)
  from the subject index alone (`Ledger.records_mark`) — so a record, void or
  resolution committed by any process is seen at once, on SQLite and PostgreSQL.
  Records are append-only with increasing seqs; the one deletion, retention's, is
  logged as an operation, and a retention run seen in the fingerprint drops every kept
  copy (SQLite may hand the seq of an erased newest record out again, which the mark
  alone would not notice); a copy is kept only from a read whose snapshot holds every
  operation the cache has seen, so a read begun before such a run keeps nothing.
  Subjects with few records are read each time. When the mark moved only by records
  appended since the copy (their seqs above its highest, the count grown by their
  number), only those are read and the copy is extended.
- An entry read from the database is kept only if no invalidation ran between the
  fingerprint it was checked against and its insertion (a generation counter, moved by
  every sync that sees new records, whether or not a row of theirs is kept: the row in
  flight may be one of theirs), so a read racing an ingest never keeps a row older
  than the ingest. Decisions in flight that miss are read together in one transaction
  (`prefetch`), the generations taken after the sync and before its snapshot.

The table stays the source of truth and the cache is per process: nothing to
configure, nothing to flush, and a decision from the cache equals one read from the
table at the same instant.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from socialcredit.dueprocess import consent
from socialcredit.dueprocess.schema import effects as effects_table
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import ProgramVersion, Record
from socialcredit.ledger.store import Ledger, driver_rows
from socialcredit.ledger.versions import (
    Settled,
    choose_program,
    pick_version,
    program_names,
    settled_versions,
)
from socialcredit.scoring.exact import Evaluated, Terms, Values, evaluator, settled
from socialcredit.scoring.standing import RulebookRef, Standing, whole
from socialcredit.service.context import Reads
from socialcredit.timeutil import format_instant

#: entries kept at most (the oldest go first); a row is a few hundred bytes
MAX_ENTRIES = 1_000_000
#: records kept at most, over every subject (a Record is a few hundred bytes)
MAX_RECORDS = 500_000
#: a subject with fewer records is read each time: that read costs about what checking
#: a kept copy does
MIN_RECORDS = 32


@dataclass(frozen=True)
class Row:
    """A materialized row, decoded once."""

    program: str
    subject: str
    subject_kind: str | None
    version: str
    sha256: str
    at: int
    known_at: int
    score: float
    tier: str | None
    dimensions: dict[str, float]
    lists: list[str]
    computed_at: int
    terms: Terms | None
    # the subject's due-process effects as (kind, end_at): whether any may change the
    # standing depends on the instant asked about
    effects: tuple[tuple[str, int | None], ...]
    note: str = ""  # what a standing read from it says of itself (formatted once)
    # what reads of the row from memory work out once (`Plan`, per state of the
    # versions); it goes with the row: a row replaced or dropped takes it along
    memo: dict[str, Any] = field(default_factory=dict, init=False, compare=False,
                                 repr=False)

    def __post_init__(self) -> None:
        if not self.note:
            object.__setattr__(self, "note", self._note())

    def _note(self) -> str:
        if self.terms is None:
            return (f"standing read from the materialized table, computed for "
                    f"{format_instant(self.at)}; the live standing explains it")
        until = self.terms.until
        return (f"standing from the materialized table (row computed for "
                f"{format_instant(self.at)}, exact "
                + (f"until {format_instant(until)}" if until is not None else "from then on")
                + "); the live standing explains it")

    @classmethod
    def from_db(cls, row: Any, fx: list[tuple[str, int | None]]) -> Row:
        terms = Terms.loads(row["terms"], row["at"], row["valid_until"]) \
            if row["terms"] is not None else None
        return cls(row["program"], row["subject"], row["subject_kind"], row["version"],
                   row["sha256"], row["at"], row["known_at"], row["score"], row["tier"],
                   json.loads(row["dimensions"]), json.loads(row["lists"]),
                   row["computed_at"], terms, tuple(fx))

    def due_process(self, t: int) -> bool:
        """Whether an effect may change the standing at t (as effects.has_any)."""
        return bool(self.effects) and any(kind != "erased" or (end is not None and end > t)
                                          for kind, end in self.effects)


@dataclass(frozen=True)
class Plan:
    """What every read of one row from memory works out the same, under one state of
    the program's versions (`basis`): where the row is usable — a decision about now
    reads at t ≥ t_from (the row's own instant, and every version in effect, so the
    one in force is basis.version) and t < t_until (its next discrete change), as
    known at k ≥ k_from (the row's known_at, after every publication) — the standing's
    fields that do not move with time and, where nothing in the row decays, its
    evaluation (`scoring.exact.settled`: the same at every such t). `Plan.of` gives
    None for a row the plain path must read (see `StandingCache.remembered`)."""

    version: ProgramVersion
    t_from: int
    t_until: int | None
    k_from: int
    fields: dict[str, Any]
    settled: Evaluated | None
    # where something decays: the evaluation at t (`scoring.exact.evaluator`)
    moving: Callable[[int], Values] | None = None

    @classmethod
    def of(cls, row: Row, basis: Settled) -> Plan | None:
        pv, terms = basis.version, row.terms
        # a row without terms is exact at its own instant only; effects may change the
        # standing; a row under another version, or older than a publication, is stale
        if terms is None or row.effects or row.sha256 != pv.sha256 \
                or basis.published > row.known_at:
            return None
        rb = pv.rulebook
        ref = rb.memo.get(("ref", row.program))
        if ref is None or ref.version != pv.version or ref.sha256 != pv.sha256:
            ref = rb.memo[("ref", row.program)] = RulebookRef(row.program, pv.version,
                                                              pv.sha256)
        ev = settled(rb, terms)
        # every field of a Standing, in its order (the per-read ones as placeholders,
        # and score and tier where nothing decays): `remembered` copies it
        fields: dict[str, Any] = dict.fromkeys(_STANDING_FIELDS)
        fields.update({"subject": row.subject, "subject_kind": row.subject_kind,
                       "program": row.program, "applies": rb.applies_to(row.subject_kind),
                       "rulebook": ref, "projection": False, "erased": False})
        if ev is not None:
            fields["score"], fields["tier"] = ev.score, ev.tier
        return cls(pv, max(terms.at, basis.effective), terms.until, row.known_at, fields, ev,
                   evaluator(rb, terms) if ev is None else None)


_STANDING_FIELDS = tuple(f.name for f in dataclasses.fields(Standing))

_FINGERPRINT = (
    f"SELECT (SELECT last FROM {s.clock.name} WHERE id = 1), "
    f"(SELECT max(seq) FROM {s.records.name}), "
    f"(SELECT max(seq) FROM {s.programs.name}), "
    f"(SELECT count(*) FROM {effects_table.name}), "
    f"(SELECT max(seq) FROM {effects_table.name}), "
    f"(SELECT sum(end_at) FROM {effects_table.name}), "
    f"(SELECT max(seq) FROM {s.operations.name})")
#: where the operations log's highest seq is in a fingerprint: what consent grants follow
_OPERATIONS = 6

_DATA_VERSION = "PRAGMA data_version"

_ROW_COLUMNS = ("program", "subject", "subject_kind", "version", "sha256", "at", "known_at",
                "score", "tier", "dimensions", "lists", "computed_at", "terms", "valid_until")
_ROW = (f"SELECT {', '.join(_ROW_COLUMNS)} FROM {s.standings.name} "
        "WHERE program = {mark} AND subject = {mark}")
_EFFECTS = f"SELECT kind, end_at FROM {effects_table.name} WHERE subject = {{mark}}"
_ROWS = (f"SELECT {', '.join(_ROW_COLUMNS)} FROM {s.standings.name} "
         "WHERE program = {mark} AND subject IN ({marks})")
_MANY_EFFECTS = (f"SELECT subject, kind, end_at FROM {effects_table.name} "
                 "WHERE subject IN ({marks})")
#: subjects read by one statement at most (SQLite's default limit is 32,766 parameters)
_CHUNK = 500


class StandingCache:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._lock = threading.Lock()
        self._rows: dict[tuple[str, str], Row] = {}
        # (subject, relying party) -> every grant between them
        self._grants: dict[tuple[str, str], tuple[consent.Grant, ...]] = {}
        self.consent_generation = 0
        self._fp: tuple[Any, ...] | None = None
        # the program versions read, the programs' names, and per program the version
        # in force at any instant after all of them (`Settled`): published as one tuple,
        # so that a reader on another thread never sees one of them newer than the others
        self._programs: tuple[list[ProgramVersion], list[str], dict[str, Settled]] = (
            [], [], {})
        self.generation = 0
        self._sqlite = ledger.engine.dialect.name == "sqlite"
        self._raw: Any = None  # the DB-API connection data_version is asked on
        self._driver: Any = None  # its sqlite3 connection, and a cursor kept on it
        self._cursor: Any = None
        self._data_version: int | None = None
        self._ask: Any = None  # the kept cursor's execute
        # whether `sync` asks nothing of the caller's read transaction (SQLite: its
        # data_version is read on the cache's own connection; PostgreSQL reads the
        # fingerprint in the caller's transaction, when it has one)
        self.syncs_alone = self._sqlite
        # whether `remembered` reads rows from memory; False: every read takes the plain
        # path (what tests hold the memory path equal to)
        self.remembers = True
        self.hits = 0  # statistics, for tests and benchmarks
        self.misses = 0
        # subject -> (its mark, its records) and how many records that holds
        self._records: dict[str, tuple[tuple[int, int | None], tuple[Record, ...]]] = {}
        self._held = 0
        self.records_generation = 0
        self.record_hits = 0
        self.record_misses = 0
        self.record_extends = 0  # kept copies extended by the records appended since

    # -- validity ---------------------------------------------------------------------

    def sync(self, reads: Reads | None = None) -> None:
        """Bring the cache in line with what is committed (see the module docstring). On
        PostgreSQL the fingerprint is read on `reads`' connection when given (the read
        transaction the caller uses for anything else)."""
        with self._lock:
            if self._sqlite:
                # every decision from memory asks this: the kept cursor's execute, bound
                # once (the statement is SQLite's cached one; asking it is a read
                # transaction's begin and end, two lock calls on the -shm file)
                ask = self._ask
                if ask is None:
                    self._raw = self.ledger.engine.raw_connection()
                    self._driver = self._raw.driver_connection
                    self._cursor = self._driver.cursor()
                    ask = self._ask = self._cursor.execute
                dv = ask(_DATA_VERSION).fetchone()[0]
                if dv == self._data_version:  # set only once a fingerprint is read
                    return
                fp = tuple(self._driver.execute(_FINGERPRINT).fetchone())
                self._data_version = dv
            elif reads is not None:
                fp = tuple(reads.conn().exec_driver_sql(_FINGERPRINT).one())
                self._apply(fp)
                # PostgreSQL reads at READ COMMITTED: each later statement of `reads`
                # sees a snapshot begun after this, so what it reads may be kept under
                # the generations as of this fingerprint
                reads.generations = (self.generation, self.consent_generation)
                return
            else:
                with self.ledger.engine.connect() as conn:
                    fp = tuple(conn.exec_driver_sql(_FINGERPRINT).one())
            self._apply(fp)

    def _apply(self, fp: tuple[Any, ...]) -> None:
        old = self._fp
        self._fp = fp
        if old is None or old[_OPERATIONS] != fp[_OPERATIONS]:
            self.consent_generation += 1
            self._grants.clear()
            if old is not None and self._records and self._retention_since(old[_OPERATIONS]):
                self.drop_records()
        if old is not None and old[1] != fp[1] and (
                fp[1] is None or (old[1] is not None and fp[1] < old[1])):
            self.drop_records()
        if old is None or old[2] != fp[2] or old[3:_OPERATIONS] != fp[3:_OPERATIONS]:
            self._drop_all(fp[2] != (old[2] if old else None))
            return
        if old[1] != fp[1]:
            if fp[1] is None or (old[1] is not None and fp[1] < old[1]):
                self._drop_all(False)
                return
            # not DISTINCT: SQLite answers that by scanning the whole subject index
            # (19 ms at 100k records) instead of the seq range
            subjects = {r[0] for r in self._query(
                f"SELECT subject FROM {s.records.name} WHERE seq > {{}}", (old[1] or 0,))}
            names = self._programs[1]
            if len(subjects) * len(names) < len(self._rows):
                # rows are keyed by the programs' names (`program`): a few new
                # records must not cost a pass over a million rows kept
                stale = [key for key in ((p, subject) for subject in subjects
                                         for p in names) if key in self._rows]
            else:
                stale = [key for key in self._rows if key[1] in subjects]
            # the generation moves even when nothing kept is stale: a row of one of
            # these subjects may be in flight, read from a snapshot older than them
            # (taken after the sync before this one), and must not be kept
            self.generation += 1
            for key in stale:
                del self._rows[key]

    def _retention_since(self, seq: int | None) -> bool:
        """Whether a retention run (the one deletion of records) committed after the
        operations log's entry `seq`."""
        return bool(self._query(f"SELECT 1 FROM {s.operations.name} WHERE seq > {{}} AND "
                                f"kind = 'retention.run' LIMIT 1", (seq or 0,)))

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Rows of a statement outside any transaction of the caller's (`sql` has {} for
        each parameter): on SQLite on the cache's own connection, which the data_version
        check holds open anyway (a pooled connection's check-out and its page cache,
        emptied by the commit being noticed, cost ~0.3 ms a new record); else on a
        connection of the engine's."""
        if self._driver is not None:
            return list(self._driver.execute(sql.format(*("?" * len(params))), params))
        with self.ledger.engine.connect() as conn:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            return list(conn.exec_driver_sql(sql.format(*([mark] * len(params))), params))

    def drop_records(self) -> None:
        """Forget every kept copy of records (retention ran; benchmarks of a cold read)."""
        self.records_generation += 1
        self._records.clear()
        self._held = 0

    def _drop_all(self, versions: bool) -> None:
        self.generation += 1
        self._rows.clear()
        if versions or not self._programs[1]:
            with self.ledger.engine.connect() as conn:
                read = self.ledger.program_versions(None, conn)
            self._programs = (read, program_names(read), settled_versions(read))

    # -- reading ------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """Whether the cache has synced once (it knows the programs)."""
        return self._fp is not None

    def committed(self) -> int:
        fp = self._fp
        return int(fp[0]) if fp is not None and fp[0] is not None else 0

    def program(self, program: str | None) -> str:
        return choose_program(self._programs[1], program)

    def versions(self, program: str) -> list[ProgramVersion]:
        return [pv for pv in self._programs[0] if pv.program == program]

    def version_in_force(self, program: str, t: int, k: int) -> ProgramVersion:
        """pick_version over the versions read (`Settled`: without scanning them when t
        and k are after all of them, as a decision about now is)."""
        versions, _, settled = self._programs
        got = settled.get(program)
        if got is None:
            return pick_version(versions, program, t, k)
        return got.pick(versions, t, k)

    def latest_publication(self, program: str) -> int:
        got = self._programs[2].get(program)
        return got.published if got is not None else 0

    def remembered(self, program: str | None, subject: str, clock: int
                   ) -> tuple[Standing, ProgramVersion] | None:
        """The standing now, and the version it is under, from the subject's row when
        memory gives it whole: the row kept, no effects on the subject, under the
        version in force, usable at now (`Plan`) — what materialized_standing's plain
        path computes then (tests hold them equal); else None, having changed nothing.
        Call it right after `sync`, with the ledger's wall clock: "now" is the later of
        it and the last commit, known as of the last commit (standings.standing_at)."""
        if not self.remembers:
            return None
        _, names, settled = self._programs
        name = names[0] if program is None and len(names) == 1 \
            else choose_program(names, program)
        row = self._rows.get((name, subject))
        basis = settled.get(name)
        if row is None or basis is None:
            return None
        got = row.memo.get("plan")
        if got is None or got[0] is not basis:
            got = row.memo["plan"] = (basis, Plan.of(row, basis))
        plan: Plan | None = got[1]
        if plan is None:
            return None
        fp = self._fp
        k = int(fp[0]) if fp is not None and fp[0] is not None else 0
        t = clock if clock > k else k
        if t < plan.t_from or k < plan.k_from or (
                plan.t_until is not None and t >= plan.t_until):
            return None
        self.hits += 1
        # a copy of the plan's fields, every key in place (a dict sized once: built key
        # by key it grows three times), then what each standing has of its own
        values = plan.fields.copy()
        ev = plan.settled
        if ev is None:
            assert plan.moving is not None
            (values["score"], values["tier"], values["dimensions"],
             values["lists"]) = plan.moving(t)
        else:  # shared by every read of the row: each standing gets its own
            values["dimensions"] = ev.dimensions.copy()
            values["lists"] = ev.lists.copy()
        values["at"] = t
        values["known_at"] = k
        values["list_entries"] = []
        values["pending"] = []
        values["contributions"] = []
        values["attributes"] = []
        values["key_factors"] = []
        values["notes"] = [row.note]
        values["suspended"] = []
        return whole(Standing, values), plan.version

    def get(self, program: str, subject: str) -> Row | None:
        row = self._rows.get((program, subject))
        if row is not None:
            self.hits += 1
        return row

    def holds(self, program: str, subject: str, relying_party: str | None) -> bool:
        """Whether the row of (program, subject) is kept, and the grants of (subject,
        relying party) when one is named (as of the last sync; counts nothing)."""
        return (program, subject) in self._rows and (
            relying_party is None or (subject, relying_party) in self._grants)

    def load(self, conn: Connection, program: str, subject: str) -> Row | None:
        """The row and the subject's effects from the database (not cached)."""
        self.misses += 1
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        found = conn.exec_driver_sql(_ROW.format(mark=mark), (program, subject)).first()
        if found is None:
            return None
        # the driver's cursor: SQLAlchemy's statement and result machinery cost several
        # times the indexed look-up (what every first decision about a subject pays)
        fx = [(r[0], r[1]) for r in driver_rows(conn, _EFFECTS.format(mark=mark),
                                                (subject,))]
        return Row.from_db(dict(zip(_ROW_COLUMNS, found, strict=True)), fx)

    def prefetch(self, asks: Sequence[tuple[str, str, str | None]]) -> int:
        """Read what decisions about many subjects need and the cache lacks — each
        (program, subject)'s row and effects, and the grants of (subject, relying party)
        where a relying party asks — in ONE read transaction, and keep it. A server
        gathers the decisions in flight that missed the cache and reads them so: one
        transaction's begin and end, and one statement for all the rows and one for all
        the effects, instead of a transaction and its statements for each. Returns how
        many rows were read.

        The generations are taken after the cache is synced and before the transaction
        sees its first row: a commit the cache has not synced yet either is in the
        snapshot (what is kept is newer than the cache knows of: harmless) or comes
        after it, and then the sync that sees it moves a generation (records moved:
        `generation`, always; an operation: `consent_generation`), so what this read
        keeps is dropped (kept already) or refused (kept later), as `put` does."""
        with self.ledger.engine.connect() as conn:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            if self._sqlite:
                self.sync()
            else:  # the fingerprint is the transaction's first read: its snapshot's
                fp = tuple(conn.exec_driver_sql(_FINGERPRINT).one())
                with self._lock:
                    self._apply(fp)
            generation, consents = self.generation, self.consent_generation
            wanted: dict[str, list[str]] = {}
            for program, subject, _ in asks:
                if (program, subject) not in self._rows and subject not in \
                        wanted.setdefault(program, []):
                    wanted[program].append(subject)
            read = 0
            for program, subjects in wanted.items():
                for i in range(0, len(subjects), _CHUNK):
                    read += self._prefetch_rows(conn, mark, program,
                                                subjects[i:i + _CHUNK], generation)
            for _, subject, relying_party in asks:
                key = (subject, relying_party or "")
                if relying_party is not None and key not in self._grants:
                    self._keep_grants(key, tuple(consent.between(conn, subject,
                                                                 relying_party)), consents)
        return read

    def _prefetch_rows(self, conn: Connection, mark: str, program: str,
                       subjects: list[str], generation: int) -> int:
        marks = ", ".join([mark] * len(subjects))
        # through SQLAlchemy (once for them all): what hooks on statements see
        found = conn.exec_driver_sql(_ROWS.format(mark=mark, marks=marks),
                                     (program, *subjects)).all()
        if not found:
            return 0
        fx: dict[str, list[tuple[str, int | None]]] = {}
        for subject, kind, end_at in driver_rows(conn, _MANY_EFFECTS.format(marks=marks),
                                                 tuple(subjects)):
            fx.setdefault(subject, []).append((kind, end_at))
        for r in found:
            row = dict(zip(_ROW_COLUMNS, r, strict=True))
            self.misses += 1
            self.put(Row.from_db(row, fx.get(row["subject"], [])), generation)
        return len(found)

    def put(self, row: Row, generation: int) -> None:
        """Keep a row read (or recomputed) since `generation` was current."""
        with self._lock:
            if generation != self.generation:
                return
            if len(self._rows) >= MAX_ENTRIES:
                self._rows.pop(next(iter(self._rows)))
            self._rows[(row.program, row.subject)] = row

    def grants(self, reads: Reads, subject: str, relying_party: str
               ) -> tuple[consent.Grant, ...]:
        """Every grant of `subject` to `relying_party` (consent.between), from memory
        when the cache is current (call `sync` first), else read on `reads`."""
        key = (subject, relying_party)
        got = self._grants.get(key)
        if got is not None:
            return got
        generation = self.generations_for(reads)[1]
        got = tuple(consent.between(reads.conn(), subject, relying_party))
        self._keep_grants(key, got, generation)
        return got

    def generations_for(self, reads: Reads) -> tuple[int, int]:
        """The (row, consent) generations what `reads` reads may be kept under: those
        taken before its snapshot began. Taken now, after it began (a decision reads
        its row, then its grants, in one transaction), a commit in between that another
        request's sync has seen would be missing from what is read and yet not refuse
        its keeping: a revoked grant would stay in memory. A connection opened without
        them keeps nothing (-1 is no generation)."""
        if reads.opened:
            return reads.generations or (-1, -1)
        return self.generation, self.consent_generation

    def _keep_grants(self, key: tuple[str, str], got: tuple[consent.Grant, ...],
                     generation: int) -> None:
        with self._lock:
            if generation == self.consent_generation:
                if len(self._grants) >= MAX_ENTRIES:
                    self._grants.pop(next(iter(self._grants)))
                self._grants[key] = got

    def records(self, conn: Connection, subject: str) -> list[Record]:
        """Every record about `subject` as `conn`'s transaction sees it (what
        `Ledger.records_of` gives), from the kept copy when the subject's mark there is
        the copy's. Call with `conn`'s transaction begun (after its first read): on
        SQLite the sync then sees any retention run that transaction can see."""
        if self._sqlite:
            self.sync()
        generation = self.records_generation
        known = self._fp[_OPERATIONS] if self._sqlite and self._fp is not None else None
        got = self._records.get(subject)
        records: list[Record] | None = None
        # a copy serves, and is kept, only for a read that sees every operation the
        # cache has seen (see _sees_operations)
        fresh = None if got is None else self._sees_operations(conn, known)
        if got is not None and fresh:
            mark = self.ledger.records_mark(subject, conn)
            if mark == got[0]:
                self.record_hits += 1
                return list(got[1])
            records = self._extended(conn, subject, got, mark)
        if records is None:
            records, mark = self.ledger.records_marked(subject, conn)
            self.record_misses += 1
        n = len(records)
        if MIN_RECORDS <= n <= MAX_RECORDS and (
                fresh if fresh is not None else self._sees_operations(conn, known)):
            with self._lock:
                if generation == self.records_generation:
                    old = self._records.pop(subject, None)
                    if old is not None:
                        self._held -= len(old[1])
                    while self._records and self._held + n > MAX_RECORDS:
                        self._held -= len(self._records.pop(next(iter(self._records)))[1])
                    self._records[subject] = (mark, tuple(records))
                    self._held += n
        return records

    def _sees_operations(self, conn: Connection, known: int | None) -> bool:
        """Whether `conn`'s snapshot holds every operation the cache has seen. A copy is
        kept, and used, only then: a read transaction begun before a retention run that
        the cache has already seen (and dropped every copy for) would otherwise keep
        records the run erased — and on SQLite, where a later record may be given the
        erased one's seq, a subject's mark can be the same before the run and after
        that record, so such a read could also be handed a newer copy than its
        snapshot. On PostgreSQL seqs are never reused (`known` is None there)."""
        if known is None:
            return True
        got = driver_rows(conn, f"SELECT max(seq) FROM {s.operations.name}", ())[0][0]
        return got is not None and int(got) >= int(known)

    def _extended(self, conn: Connection, subject: str,
                  got: tuple[tuple[int, int | None], tuple[Record, ...]],
                  mark: tuple[int, int | None]) -> list[Record] | None:
        """The kept copy and the records appended since, when that is all that changed:
        every new record has a seq above the copy's highest, and the count grew by
        exactly their number (a record committed late with a lower seq, or one deleted,
        fails the count: None, and the caller reads everything). Records are appended
        in seq order within a subject's read (SQLite's index order), so the result is
        what a fresh read gives; a busy subject's next record costs one row's read."""
        (count, top), kept = got
        if top is None or mark[1] is None or mark[1] <= top or mark[0] <= count:
            return None
        new, new_top = self.ledger.records_after(subject, top, conn)
        if count + len(new) != mark[0] or new_top != mark[1]:
            return None
        self.record_extends += 1
        return [*kept, *new]

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                self._cursor.close()
                self._raw.close()
                self._raw = self._driver = self._cursor = self._ask = None
                self._data_version = None


__all__ = ["MAX_ENTRIES", "MAX_RECORDS", "MIN_RECORDS", "Plan", "Row", "StandingCache"]
