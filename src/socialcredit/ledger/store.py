"""The ledger: append-only, bitemporal, hosting several programs.

Nothing here updates or deletes a record in place. `recorded_at` is the ledger's
clock at append (monotone even when the wall clock steps back); only a logged
backfill may carry its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, inspect, select

from socialcredit.db import make_engine, resolve_db_url
from socialcredit.errors import LedgerError, RulebookError
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import ProgramVersion, Record, TypeInfo
from socialcredit.rulebook.baseline import enforce_baseline
from socialcredit.rulebook.loader import source_text
from socialcredit.rulebook.model import RecordType, Rulebook
from socialcredit.timeutil import BEGINNING_OF_TIME, format_instant, now_us

SCHEMA_VERSION = "1"
Clock = Callable[[], int]


@dataclass(frozen=True)
class Event:
    """A transparency-log event produced by a ledger operation."""

    kind: str
    payload: dict[str, Any]


def _transparency() -> Any:
    """The transparency log, if installed in this build (it is a separate concern)."""
    try:
        from socialcredit.transparency import events, store
    except ImportError:  # pragma: no cover - always present in a full install
        return None
    return events, store


def pick_version(versions: Sequence[ProgramVersion], program: str, at: int, known_at: int
                 ) -> ProgramVersion:
    """The version of `program` in force at `at` as known at `known_at`: the latest
    effective ≤ at whose publication was recorded ≤ known_at (ties: later publication).
    One rule for the ledger and for Parquet exports."""
    mine = [pv for pv in versions if pv.program == program]
    best: ProgramVersion | None = None
    for pv in mine:
        if pv.effective_at <= at and pv.published_at <= known_at and (
                best is None or (pv.effective_at, pv.seq) > (best.effective_at, best.seq)):
            best = pv
    if best is None:
        first = min(mine, key=lambda pv: pv.seq, default=None)
        raise LedgerError(
            f"no version of program {program!r} is in force at {format_instant(at)} as known "
            f"at {format_instant(known_at)}"
            + ("" if first is None else
               f": it was first published at {format_instant(first.published_at)}"
               + (f", effective from {format_instant(first.effective_at)}"
                  if first.effective_at > BEGINNING_OF_TIME else "")))
    return best


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
    def open(cls, db: str | None = None, clock: Clock = now_us, *, create: bool = False
             ) -> Ledger:
        url = resolve_db_url(db)
        engine = make_engine(url)
        ledger = cls(engine, url, clock)
        if not create and not ledger.exists():
            raise LedgerError(f"no ledger at {url}: create one with `socialcredit init "
                              "--rulebook FILE`")
        return ledger

    def exists(self) -> bool:
        return inspect(self.engine).has_table(s.meta.name)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def init(cls, rulebook: Rulebook, db: str | None = None, clock: Clock = now_us,
             effective: int | None = None) -> Ledger:
        """Create a ledger with a first program. Refuses a rulebook that crosses a line
        before anything is created."""
        enforce_baseline(rulebook)
        ledger = cls.open(db, clock, create=True)
        if ledger.exists() and ledger.program_versions():
            raise LedgerError(f"a ledger already exists at {ledger.url}: add programs with "
                              "`socialcredit publish FILE`")
        # Idempotent up to the first publication, so that an init whose publication
        # failed is finished by running it again rather than leaving a program-less ledger.
        s.metadata.create_all(ledger.engine)
        t = _transparency()
        if t is not None:
            t[1].create_tables(ledger.engine)
        with ledger.engine.begin() as conn:
            if conn.execute(select(s.meta.c.value).where(
                    s.meta.c.key == "schema_version")).scalar() is None:
                conn.execute(s.meta.insert(), [
                    {"key": "schema_version", "value": SCHEMA_VERSION},
                    {"key": "created_at", "value": str(ledger.clock())},
                ])
            if t is not None:
                from socialcredit.transparency.checkpoint import create_key

                create_key(conn, origin=f"socialcredit/{rulebook.rulebook}")
        ledger.publish(rulebook, effective=effective)
        return ledger

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
        seen: dict[str, None] = {}
        for pv in self.program_versions(None, conn):
            seen.setdefault(pv.program, None)
        return list(seen)

    def resolve_program(self, program: str | None, conn: Connection | None = None) -> str:
        names = self.programs(conn)
        if program is None:
            if len(names) == 1:
                return names[0]
            raise LedgerError("this ledger hosts several programs "
                              f"({', '.join(names)}): choose one with --program")
        if program not in names:
            raise LedgerError(f"no program {program!r} in this ledger "
                              f"(programs: {', '.join(names) or 'none'})")
        return program

    def version_in_force(self, program: str, at: int, known_at: int,
                         conn: Connection | None = None) -> ProgramVersion:
        """The latest version effective at `at` whose publication was recorded by
        `known_at`: any past standing reproduces exactly."""
        versions = self.program_versions(program, conn)
        if not versions:
            raise LedgerError(f"no program {program!r} in this ledger")
        return pick_version(versions, program, at, known_at)

    def ensure_operable(self, rb: Rulebook) -> None:
        """Refuse to operate a rulebook that crosses a line — checked again at ingest and
        decision time (cached by sha256), so a rulebook stored before a line was
        sharpened cannot keep operating."""
        if rb.sha256 not in self._operable:
            enforce_baseline(rb)
            self._operable.add(rb.sha256)

    def publish(self, rulebook: Rulebook, effective: int | None = None) -> ProgramVersion:
        """Add a program or a new version of one, after the baseline and the agreement
        of shared record types with every other program."""
        enforce_baseline(rulebook)
        existing = self.program_versions()
        mine = [pv for pv in existing if pv.program == rulebook.rulebook]
        for pv in mine:
            if pv.version == rulebook.version:
                if pv.sha256 == rulebook.sha256:
                    return pv  # the same publication twice is a no-op
                raise LedgerError(
                    f"program {rulebook.rulebook!r} version {rulebook.version} is already "
                    f"published with other content (sha256 {pv.sha256[:12]}…): give the new "
                    "rulebook a new `version:`")
        self._check_agreement(rulebook, existing)
        with self.engine.begin() as conn:
            published = self.tick(conn)
            eff = effective if effective is not None else (
                BEGINNING_OF_TIME if not mine else published)
            row = {"program": rulebook.rulebook, "version": rulebook.version,
                   "effective_at": eff, "published_at": published,
                   "sha256": rulebook.sha256, "canonical": rulebook.canonical(),
                   "source": source_text(rulebook)}
            key = conn.execute(s.programs.insert().values(**row)).inserted_primary_key
            seq = key[0] if key is not None else 0
            self.operation(conn, "publish", {"program": rulebook.rulebook,
                                             "version": rulebook.version,
                                             "sha256": rulebook.sha256})
            self.log_events(conn, [Event("rulebook.published", {
                "program": rulebook.rulebook, "version": rulebook.version,
                "sha256": rulebook.sha256, "effective_at": format_instant(eff),
                "published_at": format_instant(published)})])
        return ProgramVersion(rulebook.rulebook, rulebook.version, eff, published,
                              rulebook.sha256, rulebook, int(seq))

    def _check_agreement(self, rb: Rulebook, existing: Sequence[ProgramVersion]) -> None:
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
                                "providers and evidence:\n  " + "\n  ".join(problems))

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

    def add_provider(self, provider: str, role: str) -> None:
        if not provider.strip() or not role.strip():
            raise LedgerError("a provider needs an id and a role")
        with self.engine.begin() as conn:
            row = conn.execute(select(s.providers).where(
                s.providers.c.provider == provider)).mappings().first()
            if row is not None:
                if row["role"] == role:
                    return
                raise LedgerError(f"provider {provider!r} is already registered with role "
                                  f"{row['role']!r}")
            conn.execute(s.providers.insert().values(provider=provider, role=role,
                                                     registered_at=self.tick(conn)))
            self.operation(conn, "provider.add", {"provider": provider, "role": role})

    def providers(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r.provider: r.role for r in conn.execute(select(s.providers))}

    def subject_kind(self, subject: str, known_at: int | None = None,
                     conn: Connection | None = None) -> str | None:
        """The subject's kind, as the ledger knew it at `known_at` (bitemporal too)."""
        q = select(s.subjects.c.kind).where(s.subjects.c.subject == subject)
        if known_at is not None:
            q = q.where(s.subjects.c.first_recorded_at <= known_at)
        if conn is None:
            with self.engine.connect() as own:
                return own.execute(q).scalar()
        return conn.execute(q).scalar()

    # -- records --------------------------------------------------------------------

    def records_of(self, subject: str, conn: Connection | None = None) -> list[Record]:
        """Every record about one subject (resolutions and voids included: ingest keeps
        them on the subject of the record they reference)."""
        if conn is None:
            with self.engine.connect() as own:
                return self.records_of(subject, own)
        # the hot path of every standing: a pre-compiled statement and plain tuples
        rows = conn.exec_driver_sql(self._records_sql, (subject,)).fetchall()
        return [Record(r[0], r[1], subject, r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])
                for r in rows]

    @property
    def _records_sql(self) -> str:
        mark = "?" if self.engine.dialect.paramstyle == "qmark" else "%s"
        return ("SELECT record_id, provider, type, kind, occurred_at, recorded_at, value_num, "
                f"value_text, evidence, ref FROM {s.records.name} WHERE subject = {mark}")

    def count_records(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(s.records)).scalar() or 0)

    def all_subjects(self, known_at: int | None = None) -> list[tuple[str, str]]:
        """(subject, kind) of every subject, or of those the ledger knew at `known_at`."""
        q = select(s.subjects.c.subject, s.subjects.c.kind).order_by(s.subjects.c.subject)
        if known_at is not None:
            q = q.where(s.subjects.c.first_recorded_at <= known_at)
        with self.engine.connect() as conn:
            return [(r.subject, r.kind) for r in conn.execute(q)]

    # -- audit ----------------------------------------------------------------------

    def operation(self, conn: Connection, kind: str, detail: dict[str, Any]) -> None:
        conn.execute(s.operations.insert().values(
            at=self.clock(), kind=kind, detail=json.dumps(detail, sort_keys=True)))

    def log_events(self, conn: Connection, events: Iterable[Event]) -> None:
        evs = [(e.kind, e.payload) for e in events]
        t = _transparency()
        if not evs or t is None:
            return
        t[0].log_events(conn, evs)

    def commitment(self, conn: Connection, subject: str) -> str:
        t = _transparency()
        if t is None:
            return ""
        return str(t[0].commitment_for(conn, subject))
