"""The ledger: append-only, bitemporal storage hosting several programs.

It stores and reads, nothing more: writes run in the caller's transaction (the service
layer's unit of work), and the ledger neither scores nor logs — the service composes
those around it. Nothing here updates or deletes a record in place. `recorded_at` is
the ledger's clock at append (monotone even when the wall clock steps back); only a
logged backfill may carry its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, func, inspect, select

from socialcredit.db import make_engine, redact_url, resolve_db_url
from socialcredit.errors import LedgerError, RulebookError
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import ProgramVersion, Record, TypeInfo
from socialcredit.ledger.versions import choose_program, pick_version, program_names
from socialcredit.rulebook.baseline import enforce_baseline
from socialcredit.rulebook.model import RecordType, Rulebook
from socialcredit.timeutil import now_us

Clock = Callable[[], int]
CHUNK = 900  # stays under SQLite's bound-parameter limit


class Ledger:
    def __init__(self, engine: Engine, url: str, clock: Clock = now_us) -> None:
        self.engine = engine
        self.url = url
        self.clock = clock
        self._rulebook_cache: dict[str, Rulebook] = {}
        self._versions: list[ProgramVersion] = []
        self._operable: set[str] = set()
        self._versions_seq: int | None = -1

    # -- opening --------------------------------------------------------------------

    @classmethod
    def connect(cls, db: str | None = None, clock: Clock = now_us) -> Ledger:
        """The ledger's storage at `db` (existing or not: the service decides)."""
        url = resolve_db_url(db)
        return cls(make_engine(url), url, clock)

    @property
    def display_url(self) -> str:
        """The URL without its password, for every message a person may read."""
        return redact_url(self.url)

    def exists(self) -> bool:
        return inspect(self.engine).has_table(s.meta.name)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self, conn: Connection, key: str) -> str | None:
        return conn.execute(select(s.meta.c.value).where(s.meta.c.key == key)).scalar()

    def set_meta(self, conn: Connection, key: str, value: str) -> None:
        if self.meta(conn, key) is None:
            conn.execute(s.meta.insert().values(key=key, value=value))

    # -- clock ----------------------------------------------------------------------

    def tick(self, conn: Connection) -> int:
        """The ledger's clock: wall time, never earlier than anything already recorded."""
        # one driver-level statement: this runs before every standing and every append
        last, last_pub = conn.exec_driver_sql(
            f"SELECT (SELECT max(recorded_at) FROM {s.records.name}), "
            f"(SELECT max(published_at) FROM {s.programs.name})").one()
        now = self.clock()
        return max(now, last or now, last_pub or now)

    # -- programs -------------------------------------------------------------------

    def rulebook_from_canonical(self, sha: str, canonical: str) -> Rulebook:
        rb = self._rulebook_cache.get(sha)
        if rb is None:
            rb = Rulebook.model_validate(json.loads(canonical))
            self._rulebook_cache[sha] = rb
        return rb

    def program_versions(self, program: str | None = None, conn: Connection | None = None
                         ) -> list[ProgramVersion]:
        """Every published version, oldest first. Cached per ledger object and refreshed
        when another publication is seen (one cheap max(seq) query), because every
        standing and decision needs the version in force."""
        if conn is None:
            with self.engine.connect() as own:
                return self.program_versions(program, own)
        latest = conn.exec_driver_sql(f"SELECT max(seq) FROM {s.programs.name}").scalar()
        if self._versions_seq != latest:
            rows = conn.execute(select(s.programs).order_by(s.programs.c.seq)).mappings().all()
            self._versions = [ProgramVersion(
                r["program"], r["version"], r["effective_at"], r["published_at"], r["sha256"],
                self.rulebook_from_canonical(r["sha256"], r["canonical"]), r["seq"])
                for r in rows]
            self._versions_seq = latest
        if program is None:
            return list(self._versions)
        return [pv for pv in self._versions if pv.program == program]

    def programs(self, conn: Connection | None = None) -> list[str]:
        return program_names(self.program_versions(None, conn))

    def resolve_program(self, program: str | None, conn: Connection | None = None) -> str:
        return choose_program(self.programs(conn), program)

    def version_in_force(self, program: str, at: int, known_at: int,
                         conn: Connection | None = None) -> ProgramVersion:
        """The latest version effective at `at` whose publication was recorded by
        `known_at`: any past standing reproduces exactly."""
        return pick_version(self.program_versions(program, conn), program, at, known_at)

    def ensure_operable(self, rb: Rulebook) -> None:
        """Refuse to operate a rulebook that crosses a line — checked again at ingest and
        decision time (cached by sha256), so a rulebook stored before a line was
        sharpened cannot keep operating."""
        if rb.sha256 not in self._operable:
            enforce_baseline(rb)
            self._operable.add(rb.sha256)

    def existing_version(self, rulebook: Rulebook, conn: Connection) -> ProgramVersion | None:
        """The same version already published (a no-op to publish again), or None; the
        same version number with other content is refused."""
        for pv in self.program_versions(rulebook.rulebook, conn):
            if pv.version == rulebook.version:
                if pv.sha256 == rulebook.sha256:
                    return pv
                raise LedgerError(
                    f"program {rulebook.rulebook!r} version {rulebook.version} is already "
                    f"published with other content (sha256 {pv.sha256[:12]}…): give the new "
                    "rulebook a new `version:`", code="rulebook.conflict")
        return None

    def insert_version(self, conn: Connection, rulebook: Rulebook, effective_at: int,
                       published_at: int, source: str | None) -> ProgramVersion:
        """Store a version (the caller checked the baseline and the agreement)."""
        row = {"program": rulebook.rulebook, "version": rulebook.version,
               "effective_at": effective_at, "published_at": published_at,
               "sha256": rulebook.sha256, "canonical": rulebook.canonical(), "source": source}
        key = conn.execute(s.programs.insert().values(**row)).inserted_primary_key
        seq = int(key[0]) if key is not None else 0
        return ProgramVersion(rulebook.rulebook, rulebook.version, effective_at, published_at,
                              rulebook.sha256, rulebook, seq)

    def check_agreement(self, rb: Rulebook, existing: Sequence[ProgramVersion]) -> None:
        """Programs that share a record type must agree on its kind, providers and
        evidence: records are shared, so they must mean one thing."""
        latest: dict[str, ProgramVersion] = {}
        for pv in existing:
            latest[pv.program] = pv
        problems = []
        for other in latest.values():
            if other.program == rb.rulebook:
                continue
            for t in rb.record_types:
                o = other.rulebook.types.get(t.id)
                if o is None:
                    continue
                for field in ("kind", "evidence"):
                    if getattr(t, field) != getattr(o, field):
                        problems.append(f"record type {t.id!r}: {field} is {getattr(t, field)!r}"
                                        f" here but {getattr(o, field)!r} in program "
                                        f"{other.program!r}")
                if set(t.providers) != set(o.providers):
                    problems.append(f"record type {t.id!r}: providers {sorted(t.providers)} "
                                    f"here but {sorted(o.providers)} in program "
                                    f"{other.program!r}")
        if problems:
            raise RulebookError("programs that share a record type must agree on its kind, "
                                "providers and evidence:\n  " + "\n  ".join(problems),
                                code="rulebook.conflict",
                                details=[{"message": p} for p in problems])

    def type_registry(self, conn: Connection | None = None) -> dict[str, TypeInfo]:
        """Every declared record type. Per program, the latest version that declares the
        type speaks for it — so a type that a newer, not yet effective version drops is
        still accepted while the version that scores it is in force."""
        declared: dict[tuple[str, str], tuple[ProgramVersion, RecordType]] = {}
        for pv in self.program_versions(None, conn):  # publication order: later wins
            for rt in pv.rulebook.record_types:
                declared[(pv.program, rt.id)] = (pv, rt)
        out: dict[str, TypeInfo] = {}
        for (program, tid), (pv, t) in declared.items():
            rb = pv.rulebook
            per_unit = [r for r in rb.rules if r.record == tid and r.points_per_unit is not None]
            numeric = bool(per_unit) or any(
                b.below is not None for a in rb.attributes if a.record == tid for b in a.bins)
            numeric = numeric and not any(
                b.values for a in rb.attributes if a.record == tid for b in a.bins)
            nonnegative = any(r.expires is None and (r.points_per_unit or 0) > 0
                              for r in per_unit)
            providers = set(t.providers) or ({"reviewer"} if t.kind == "void" else set())
            prev = out.get(tid)
            if prev is not None:
                providers |= prev.providers
                numeric = numeric or prev.numeric
                nonnegative = nonnegative or prev.nonnegative
            out[tid] = TypeInfo(
                tid, t.kind, frozenset(providers),
                t.evidence == "required" or bool(prev and prev.evidence_required),
                numeric, (*(prev.declared_by if prev else ()), program), nonnegative)
        return out

    # -- providers and subjects -----------------------------------------------------

    def add_provider(self, conn: Connection, provider: str, role: str,
                     registered_at: int | None = None) -> bool:
        """Register a provider; False when it already was, with the same role."""
        if not provider.strip() or not role.strip():
            raise LedgerError("a provider needs an id and a role", code="provider.invalid")
        row = conn.execute(select(s.providers).where(
            s.providers.c.provider == provider)).mappings().first()
        if row is not None:
            if row["role"] == role:
                return False
            raise LedgerError(f"provider {provider!r} is already registered with role "
                              f"{row['role']!r}", code="provider.conflict")
        conn.execute(s.providers.insert().values(
            provider=provider, role=role,
            registered_at=self.tick(conn) if registered_at is None else registered_at))
        return True

    def providers(self, conn: Connection | None = None) -> dict[str, str]:
        if conn is None:
            with self.engine.connect() as own:
                return self.providers(own)
        return {r.provider: r.role for r in conn.execute(select(s.providers))}

    def subject_kind(self, subject: str, known_at: int | None = None,
                     conn: Connection | None = None) -> str | None:
        """The subject's kind, as the ledger knew it at `known_at` (bitemporal too)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.subject_kind(subject, known_at, own)
        # on the path of every standing: driver-level SQL, compiled once
        mark = self._mark(conn)
        sql = f"SELECT kind FROM {s.subjects.name} WHERE subject = {mark}"
        if known_at is None:
            return conn.exec_driver_sql(sql, (subject,)).scalar()
        return conn.exec_driver_sql(sql + f" AND first_recorded_at <= {mark}",
                                    (subject, known_at)).scalar()

    def known_subjects(self, conn: Connection, subjects: Sequence[str]) -> dict[str, str]:
        """subject -> kind for those of `subjects` the ledger holds."""
        return dict(self.fetch_by(conn, s.subjects.c.subject, list(subjects),
                                  s.subjects.c.subject, s.subjects.c.kind))

    def insert_subjects(self, conn: Connection, rows: Iterable[tuple[str, str, int]]) -> None:
        """New subjects as (subject, kind, first_recorded_at)."""
        data = [{"subject": k, "kind": kind, "first_recorded_at": at} for k, kind, at in rows]
        if data:
            conn.execute(s.subjects.insert(), data)

    def backdate_subjects(self, conn: Connection, earliest: dict[str, int]) -> None:
        """A backfill may bring history older than anything the ledger had about a known
        subject: the subject is then known from its earliest record (subject kinds are
        bitemporal, and backfilled records must count at those earlier transaction times)."""
        c = s.subjects.c
        for subject, at in earliest.items():
            conn.execute(s.subjects.update().where(c.subject == subject,
                                                   c.first_recorded_at > at)
                         .values(first_recorded_at=at))

    # -- records --------------------------------------------------------------------

    RECORD_COLUMNS = ("record_id", "provider", "subject", "type", "kind", "occurred_at",
                      "recorded_at", "value_num", "value_text", "evidence", "ref", "batch",
                      "digest")

    def insert_records(self, conn: Connection, rows: Sequence[tuple[Any, ...]], *,
                       skip_conflicts: bool = False) -> int:
        """Append records (tuples in RECORD_COLUMNS order) with one driver-level
        executemany; with skip_conflicts, ids already stored are skipped and the count
        of rows actually stored is returned (the optimistic ingest path)."""
        if not rows:
            return 0
        cols = self.RECORD_COLUMNS
        sql = (f"INSERT INTO {s.records.name} ({', '.join(cols)}) VALUES "
               f"({', '.join([self._mark(conn)] * len(cols))})")
        if skip_conflicts:
            sql += " ON CONFLICT (record_id) DO NOTHING"
        res = conn.exec_driver_sql(sql, list(rows))
        return int(res.rowcount) if skip_conflicts else len(rows)

    @staticmethod
    def _mark(conn: Connection) -> str:
        return "?" if conn.dialect.paramstyle == "qmark" else "%s"

    def fetch_by(self, conn: Connection, col: Any, keys: list[str], *cols: Any) -> list[Any]:
        """Rows whose `col` is in `keys`, in chunks, as driver SQL: SQLAlchemy's expanding
        IN would recompile per chunk, which dominated ingest time."""
        if not keys:
            return []
        mark = self._mark(conn)
        names = ", ".join(c.name for c in cols)
        out: list[Any] = []
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i:i + CHUNK]
            sql = (f"SELECT {names} FROM {col.table.name} WHERE {col.name} IN "
                   f"({', '.join([mark] * len(chunk))})")
            out.extend(conn.exec_driver_sql(sql, tuple(chunk)).fetchall())
        return out

    def records_of(self, subject: str, conn: Connection | None = None) -> list[Record]:
        """Every record about one subject (resolutions and voids included: ingest keeps
        them on the subject of the record they reference)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.records_of(subject, own)
        # the hot path of every standing: a pre-compiled statement and plain tuples
        sql = ("SELECT record_id, provider, type, kind, occurred_at, recorded_at, value_num, "
               f"value_text, evidence, ref FROM {s.records.name} WHERE subject = "
               f"{self._mark(conn)}")
        rows = conn.exec_driver_sql(sql, (subject,)).fetchall()
        return [Record(r[0], r[1], subject, r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])
                for r in rows]

    def record(self, record_id: str, conn: Connection) -> Record | None:
        """One record by its id (None when there is none, or it was erased)."""
        c = s.records.c
        row = conn.execute(select(c.record_id, c.provider, c.subject, c.type, c.kind,
                                  c.occurred_at, c.recorded_at, c.value_num, c.value_text,
                                  c.evidence, c.ref).where(c.record_id == record_id)).first()
        return None if row is None else Record(*row)

    def erase_records(self, conn: Connection, record_ids: Sequence[str]) -> int:
        """Retention's purge, the one deletion the ledger knows: the caller (the service's
        retention run) keeps a tombstone with each record's hash and logs the erasure."""
        n = 0
        ids = list(record_ids)
        for i in range(0, len(ids), CHUNK):
            res = conn.execute(s.records.delete().where(s.records.c.record_id.in_(
                ids[i:i + CHUNK])))
            n += int(res.rowcount or 0)
        return n

    def all_records(self, conn: Connection) -> Iterable[Record]:
        c = s.records.c
        for row in conn.execute(select(c.record_id, c.provider, c.subject, c.type, c.kind,
                                       c.occurred_at, c.recorded_at, c.value_num,
                                       c.value_text, c.evidence, c.ref)):
            yield Record(*row)

    def count_records(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.records)).scalar() or 0)

    def count_subjects(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.subjects)).scalar() or 0)

    def all_subjects(self, known_at: int | None = None, conn: Connection | None = None
                     ) -> list[tuple[str, str]]:
        """(subject, kind) of every subject, or of those the ledger knew at `known_at`."""
        if conn is None:
            with self.engine.connect() as own:
                return self.all_subjects(known_at, own)
        q = select(s.subjects.c.subject, s.subjects.c.kind).order_by(s.subjects.c.subject)
        if known_at is not None:
            q = q.where(s.subjects.c.first_recorded_at <= known_at)
        return [(r.subject, r.kind) for r in conn.execute(q)]

    # -- audit ----------------------------------------------------------------------

    def operation(self, conn: Connection, kind: str, detail: dict[str, Any]) -> int:
        """Write an entry of the operations log; returns its seq."""
        key = conn.execute(s.operations.insert().values(
            at=self.clock(), kind=kind, detail=json.dumps(detail, sort_keys=True))
        ).inserted_primary_key
        return int(key[0]) if key is not None else 0


__all__ = ["CHUNK", "Clock", "Ledger"]
