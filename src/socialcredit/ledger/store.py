"""The ledger: append-only, bitemporal storage hosting several programs.

It stores and reads, nothing more: writes run in the caller's transaction (the service
layer's unit of work), and the ledger neither scores nor logs — the service composes
those around it. Nothing here updates or deletes a record in place. `recorded_at` is
the ledger's clock at append (monotone even when the wall clock steps back); only a
logged backfill may carry its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, func, inspect, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from socialcredit.db import (
    IMMEDIATE,
    in_keys,
    lock_timeout,
    make_engine,
    redact_url,
    resolve_db_url,
)
from socialcredit.errors import LedgerError, RulebookError
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import (
    ProgramVersion,
    Record,
    TypeInfo,
    records_and_top,
    records_of_rows,
)
from socialcredit.ledger.partitioning import META_KEY, skipping_duplicates
from socialcredit.ledger.versions import choose_program, pick_version, program_names
from socialcredit.rulebook.baseline import enforce_baseline
from socialcredit.rulebook.catalogue import (
    Catalogue,
    catalogue_from_canonical,
    enforce_catalogue,
    enforce_citations,
)
from socialcredit.rulebook.model import RecordType, Rulebook
from socialcredit.timeutil import now_us

Clock = Callable[[], int]
T = TypeVar("T")
CHUNK = 900  # stays under SQLite's bound-parameter limit
#: From how many records a PostgreSQL append goes by COPY (below it, the temporary
#: table costs more than it saves).
COPY_MIN_ROWS = 2_000
#: SQLite: appends from this many records may rebuild the secondary indexes of the
#: records table instead of inserting into them (Ledger._indexes_rebuilt).
REBUILD_MIN_ROWS = 65_536
# keys of a connection's info while a write() transaction runs on it
IN_WRITE = "socialcredit.in_write"
STAMP = "socialcredit.stamp"


def busy(exc: OperationalError) -> bool:
    """A lock not obtained in time: SQLite's `database is locked`, PostgreSQL's lock
    timeout, serialization failure or deadlock."""
    code = getattr(exc.orig, "sqlstate", None)
    return code in ("55P03", "40001", "40P01") or "database is locked" in str(exc.orig) \
        or "database table is locked" in str(exc.orig)



def begun(conn: Connection) -> None:
    """Begin the connection's transaction if its first statement is yet to come, as
    that statement would (SQLAlchemy's autobegin; on SQLite the BEGIN that makes the
    connection's later reads one view): a driver-level read may then follow at once,
    without the first statement's trip through SQLAlchemy's execution and result
    machinery (~20 µs of every read transaction)."""
    if not conn.in_transaction():
        conn.begin()


def driver_rows(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    """A read's rows straight from the driver's cursor, in the connection's transaction
    (begun first if it is the first statement: `begun`): SQLAlchemy's result wrapping
    cost ~15% of a 1,000-record standing's read. Errors come out as SQLAlchemy's, as
    from conn.exec_driver_sql."""
    return driver_read(conn, sql, params, _fetchall)


def _fetchall(cur: Any) -> list[Any]:
    return cur.fetchall()  # type: ignore[no-any-return]


def driver_read(conn: Connection, sql: str, params: tuple[Any, ...],
                read: Callable[[Iterable[Any]], T]) -> T:
    """`read` of a statement's rows as the driver's cursor steps through them (as
    driver_rows, without the list of every row's tuple): building one object per row,
    each row's tuple is freed once read, so a thousand rows cost no thousand tuples alive
    at once — and no garbage collection they would have triggered."""
    begun(conn)
    error = conn.dialect.loaded_dbapi.Error
    try:
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(sql, params)
            return read(cur)
        finally:
            cur.close()
    except error as exc:
        raise DBAPIError.instance(sql, params, exc, error) from exc


def busy_error() -> LedgerError:
    """What a writer that waited out the lock timeout behind another writer is told
    (the API answers it 503 with Retry-After)."""
    return LedgerError(f"the ledger is busy with another writer (waited {lock_timeout():g} "
                       "s); nothing was stored: try again", code="database.busy")


class Ledger:
    def __init__(self, engine: Engine, url: str, clock: Clock = now_us) -> None:
        self.engine = engine
        self.url = url
        self.clock = clock
        self._rulebook_cache: dict[str, Rulebook] = {}
        self._catalogue_cache: dict[str, Catalogue] = {}
        self._versions: list[ProgramVersion] = []
        self._operable: set[str] = set()
        self._versions_seq: int | None = -1
        self._partitions: int | None = None

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

    def partitions(self, conn: Connection) -> int:
        """How many hash partitions by subject the ledger's large tables have (1: not
        partitioned); fixed when the ledger was created (ledger/partitioning.py)."""
        if self._partitions is None:
            value = self.meta(conn, META_KEY)
            self._partitions = int(value) if value else 1
        return self._partitions

    # -- clock ----------------------------------------------------------------------

    def committed(self, conn: Connection) -> int:
        """The last transaction time committed (as this connection sees it): every record,
        publication and registration stamped so far carries at most this time, and
        every later one will carry a greater one."""
        # one driver-level statement: this runs before every standing and every append
        rows = driver_rows(conn, f"SELECT last FROM {s.clock.name} WHERE id = 1", ())
        last = rows[0][0] if rows else None
        if last is None:  # a ledger whose clock row is not written yet (being created)
            return 0
        return int(last)

    def tick(self, conn: Connection) -> int:
        """The ledger's clock: wall time, never earlier than anything already stamped."""
        return max(self.clock(), self.committed(conn))

    def stamp(self, conn: Connection) -> int:
        """This write transaction's time, strictly later than every one committed before
        it (one per transaction: a catalogue and the rulebook citing it, published
        together, share it). Only inside `write()`, which holds the clock's lock: stamps
        then increase in commit order, so whatever was known at a committed time k never
        changes afterwards."""
        at = conn.info.get(STAMP)
        if at is None:
            at = max(self.clock(), self.committed(conn) + 1)
            conn.execute(s.clock.update().where(s.clock.c.id == 1).values(last=at))
            if conn.info.get(IN_WRITE):
                conn.info[STAMP] = at
        return int(at)

    def mixed_scripts_allowed(self, conn: Connection) -> bool:
        """Whether subject ids may mix scripts: only when the latest version of every
        program allows it (subjects are shared by all programs)."""
        latest: dict[str, Rulebook] = {}
        for pv in self.program_versions(None, conn):
            latest[pv.program] = pv.rulebook
        return bool(latest) and all(rb.subject_ids is not None and rb.subject_ids.mixed_scripts
                                    for rb in latest.values())

    def advance_clock(self, conn: Connection, at: int) -> None:
        """Never stamp earlier than `at` again (an import carries other ledgers' times)."""
        conn.execute(s.clock.update().where(s.clock.c.id == 1, s.clock.c.last < at)
                     .values(last=at))

    def init_clock(self, conn: Connection) -> None:
        """The clock row of a new ledger (starting at the present)."""
        if conn.execute(select(s.clock.c.id)).first() is None:
            conn.execute(s.clock.insert().values(id=1, last=0))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction holding the ledger's lock from its first statement:
        SQLite begins it IMMEDIATE (the database's write lock), PostgreSQL locks the
        clock row. Writers therefore run one after the other, each seeing everything
        the previous one committed, and a busy or conflicting database becomes a clear
        error that says to retry (nothing was stored)."""
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name == "sqlite":
                    conn.info[IMMEDIATE] = True
                conn.info[IN_WRITE] = True
                conn.info.pop(STAMP, None)
                try:
                    with conn.begin():
                        if conn.dialect.name == "postgresql":
                            conn.exec_driver_sql(
                                f"SET LOCAL lock_timeout = '{int(lock_timeout() * 1000)}ms'")
                            conn.exec_driver_sql(
                                f"SELECT last FROM {s.clock.name} WHERE id = 1 FOR UPDATE")
                        yield conn
                finally:
                    conn.info.pop(IN_WRITE, None)
                    conn.info.pop(STAMP, None)
        except OperationalError as exc:
            if busy(exc):
                raise busy_error() from None
            raise
        except IntegrityError as exc:
            raise LedgerError(
                "a concurrent write conflicted with this one; nothing was stored: try "
                f"again ({str(exc.orig).splitlines()[0][:200]})",
                code="database.conflict") from None

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
        latest = driver_rows(conn, f"SELECT max(seq) FROM {s.programs.name}", ())[0][0]
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

    def ensure_operable(self, rb: Rulebook, conn: Connection | None = None) -> None:
        """Refuse to operate a rulebook that crosses a line — checked again at ingest and
        decision time (cached by sha256), so a rulebook stored before a line was
        sharpened cannot keep operating. A rulebook that cites a catalogue is checked
        against it again too, and the catalogue against the lexicon. (Versions
        published before catalogues existed cite none: they were published under the
        rules of their time, and upgrading cannot add citations without changing their
        sha256; a new version brings such a program under a catalogue.)"""
        if rb.sha256 in self._operable:
            return
        enforce_baseline(rb)
        if rb.catalogue is not None:
            if conn is None:
                with self.engine.connect() as own:
                    cat = self.catalogue(own, rb.catalogue.id, rb.catalogue.version)
            else:
                cat = self.catalogue(conn, rb.catalogue.id, rb.catalogue.version)
            if cat is not None:
                enforce_catalogue(cat)
            enforce_citations(rb, cat)
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

    # -- catalogues ---------------------------------------------------------------

    def catalogue(self, conn: Connection, catalogue: str, version: str) -> Catalogue | None:
        """A published catalogue version, or None."""
        c = s.catalogues.c
        row = conn.execute(select(c.sha256, c.canonical).where(
            c.catalogue == catalogue, c.version == version)).first()
        if row is None:
            return None
        cat = self._catalogue_cache.get(row[0])
        if cat is None:
            cat = catalogue_from_canonical(row[1])
            self._catalogue_cache[row[0]] = cat
        return cat

    def catalogues(self, conn: Connection) -> list[tuple[str, str, str, int]]:
        """(catalogue, version, sha256, published_at) of every published catalogue."""
        c = s.catalogues.c
        return [(r[0], r[1], r[2], int(r[3])) for r in conn.execute(
            select(c.catalogue, c.version, c.sha256, c.published_at).order_by(c.seq))]

    def insert_catalogue(self, conn: Connection, cat: Catalogue, published_at: int,
                         source: str | None) -> bool:
        """Store a catalogue version; False if it was already there with this content,
        catalogue.conflict if with other content."""
        have = self.catalogue(conn, cat.catalogue, cat.version)
        if have is not None:
            if have.sha256 == cat.sha256:
                return False
            raise LedgerError(f"catalogue {cat.catalogue!r} version {cat.version} is already "
                              f"published with other content (sha256 {have.sha256[:12]}…): "
                              "give the new catalogue a new `version:`",
                              code="catalogue.conflict")
        conn.execute(s.catalogues.insert().values(
            catalogue=cat.catalogue, version=cat.version, published_at=published_at,
            sha256=cat.sha256, canonical=cat.canonical(), source=source))
        return True

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
                for field in ("kind", "evidence", "negative_values"):
                    if getattr(t, field) != getattr(o, field):
                        problems.append(f"record type {t.id!r}: {field} is {getattr(t, field)!r}"
                                        f" here but {getattr(o, field)!r} in program "
                                        f"{other.program!r}")
                mine = resolvers(rb, t.id)
                theirs = resolvers(other.rulebook, t.id)
                if mine != theirs:
                    problems.append(f"record type {t.id!r}: resolved by {_show(mine)} here but "
                                    f"by {_show(theirs)} in program {other.program!r}")
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
            # the rules of this type only (indexed once per version: a rulebook may hold
            # 100,000 rules over thousands of types)
            per_unit = [i for i in rb.rules_by_type.get(tid, ())
                        if rb.rules[i].points_per_unit is not None]
            attrs = [a for a in rb.attributes if a.record == tid] if rb.attributes else []
            numeric = bool(per_unit) or any(b.below is not None for a in attrs for b in a.bins)
            numeric = numeric and not any(b.values for a in attrs for b in a.bins)
            nonnegative = bool(per_unit) and t.negative_values != "allowed"
            providers = set(t.providers) or ({"reviewer"} if t.kind == "void" else set())
            res = resolvers(rb, tid)
            prev = out.get(tid)
            if prev is not None:
                providers |= prev.providers
                numeric = numeric or prev.numeric
                nonnegative = nonnegative or prev.nonnegative
                for k, v in (prev.resolved_by or {}).items():  # programs agree (publish)
                    res[k] = res.get(k, frozenset()) | v
            out[tid] = TypeInfo(
                tid, t.kind, frozenset(providers),
                t.evidence == "required" or bool(prev and prev.evidence_required),
                numeric, (*(prev.declared_by if prev else ()), program), nonnegative, res)
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

    def known_roles(self, conn: Connection) -> set[str]:
        """Every provider role a published rulebook names (reviewers always exist)."""
        roles = {"reviewer"}
        for pv in self.program_versions(None, conn):
            for t in pv.rulebook.record_types:
                roles.update(t.providers)
                for res in t.resolved_by or ():
                    roles.update(res.providers or ())
        return roles

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
        rows = driver_rows(conn, sql, (subject,)) if known_at is None else driver_rows(
            conn, sql + f" AND first_recorded_at <= {mark}", (subject, known_at))
        return rows[0][0] if rows else None

    def subject_kinds(self, conn: Connection, subjects: Sequence[str], known_at: int
                      ) -> dict[str, str]:
        """subject -> kind, as the ledger knew it at `known_at`, of many subjects in one
        statement (subject_kind for a whole ingest)."""
        if not subjects:
            return {}
        where, keys = in_keys(conn, "subject", subjects)
        return {r[0]: r[1] for r in conn.exec_driver_sql(
            f"SELECT subject, kind FROM {s.subjects.name} WHERE {where} "
            f"AND first_recorded_at <= {self._mark(conn)}", (keys, known_at))}

    def known_subjects(self, conn: Connection, subjects: Sequence[str]) -> dict[str, str]:
        """subject -> kind for those of `subjects` the ledger holds."""
        return dict(self.fetch_by(conn, s.subjects.c.subject, list(subjects),
                                  s.subjects.c.subject, s.subjects.c.kind))

    def insert_subjects(self, conn: Connection, rows: Iterable[tuple[str, str, int]]) -> None:
        """New subjects as (subject, kind, first_recorded_at): one driver-level
        executemany of the tuples (text and integers, which both drivers bind as they
        are); SQLAlchemy's per-row parameter handling cost twice the insert itself
        (80,000 subjects: 0.50 s of CPU against 0.18 s)."""
        data = list(rows)
        if data:
            mark = self._mark(conn)
            conn.exec_driver_sql(
                f"INSERT INTO {s.subjects.name} (subject, kind, first_recorded_at) "
                f"VALUES ({mark}, {mark}, {mark})", data)

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

    @contextmanager
    def page_cache_for(self, conn: Connection, rows: int) -> Iterator[None]:
        """SQLite: a page cache sized to a bulk append while it runs (about 1 KiB a
        record, between the usual 64 MiB and 2 GiB). A big ingest inserts into the
        record_id and subject indexes in random order; once their pages outgrow the
        cache, SQLite spills dirty pages to the WAL in mid-transaction and reads them
        back, and the ingest becomes bound by the disk (measured: wall time ten times
        the CPU time at a million records)."""
        if conn.dialect.name != "sqlite" or rows < 65_536:
            yield
            return
        conn.exec_driver_sql(f"PRAGMA cache_size=-{min(2 << 20, rows)}")
        try:
            yield
        finally:
            conn.exec_driver_sql("PRAGMA cache_size=-65536")

    RECORD_COLUMNS = ("record_id", "provider", "subject", "type", "kind", "occurred_at",
                      "recorded_at", "value_num", "value_text", "evidence", "ref",
                      "ingested_at", "batch", "digest")

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
        if skip_conflicts and self.partitions(conn) > 1:
            # no global unique index to name: the key table's trigger skips duplicates
            with skipping_duplicates(conn):
                res = conn.exec_driver_sql(sql, list(rows))
            return int(res.rowcount)
        if conn.dialect.name == "postgresql" and len(rows) >= COPY_MIN_ROWS:
            return self._copy_records(conn, rows, skip_conflicts)
        if skip_conflicts:
            sql += " ON CONFLICT (record_id) DO NOTHING"
        with self._indexes_rebuilt(conn, len(rows)):
            res = conn.exec_driver_sql(sql, list(rows))
        return int(res.rowcount) if skip_conflicts else len(rows)

    @contextmanager
    def _indexes_rebuilt(self, conn: Connection, rows: int) -> Iterator[None]:
        """SQLite: an append of REBUILD_MIN_ROWS records or more into a table holding no
        more records than that drops the table's secondary indexes (subject, recorded_at,
        ref) for the insert and builds them again after it, in the same transaction: a
        sort beats inserting in random key order (measured on the list-heavy feed, 100,000
        records into a new ledger: 7.2 -> 5.1 µs of CPU a record). Into a bigger table
        the rebuild would cost more than it saves. The unique record_id index stays (the
        optimistic insert skips conflicts by it)."""
        if conn.dialect.name != "sqlite" or rows < REBUILD_MIN_ROWS:
            yield
            return
        stored = conn.exec_driver_sql(f"SELECT max(seq) FROM {s.records.name}").scalar()
        if int(stored or 0) > rows:
            yield
            return
        indexes = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL ORDER BY name", (s.records.name,)).all()
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
        try:
            yield
        finally:  # (an error rolls the whole transaction back, the drops with it)
            for _, sql in indexes:
                conn.exec_driver_sql(sql)

    def _copy_records(self, conn: Connection, rows: Sequence[tuple[Any, ...]],
                      skip_conflicts: bool) -> int:
        """PostgreSQL: a bulk append by COPY into a temporary table, then one INSERT …
        SELECT (COPY itself cannot skip conflicts). Measured on 300,000 records: a tenth
        of executemany's client CPU and half its wall time. The SELECT keeps the rows'
        order, so seq follows it as it does with executemany."""
        cols = ", ".join(self.RECORD_COLUMNS)
        run = conn.exec_driver_sql  # errors come wrapped as everywhere else (IntegrityError)
        run("DROP TABLE IF EXISTS pg_temp.sc_records_in")
        run(f"CREATE TEMP TABLE sc_records_in ON COMMIT DROP AS SELECT {cols} "
            f"FROM {s.records.name} WITH NO DATA")
        run("ALTER TABLE sc_records_in ADD COLUMN ord bigserial")
        raw = conn.connection.driver_connection
        with (raw.cursor() as cur,  # type: ignore[union-attr]
              cur.copy(f"COPY sc_records_in ({cols}) FROM STDIN") as copy):
            for row in rows:
                copy.write_row(row)
        res = run(f"INSERT INTO {s.records.name} ({cols}) SELECT {cols} FROM sc_records_in "
                  "ORDER BY ord" + (" ON CONFLICT (record_id) DO NOTHING" if skip_conflicts
                                    else ""))
        stored = int(res.rowcount)
        run("DROP TABLE pg_temp.sc_records_in")
        return stored if skip_conflicts else len(rows)

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
               f"value_text, evidence, ref, ingested_at FROM {s.records.name} WHERE subject = "
               f"{self._mark(conn)}")
        return driver_read(conn, sql, (subject,), lambda rows: records_of_rows(rows, subject))

    def records_marked(self, subject: str, conn: Connection
                       ) -> tuple[list[Record], tuple[int, int | None]]:
        """records_of, with the subject's mark (`records_mark`) as of the same read: what a
        reader keeping the records between reads compares a later mark with. On SQLite,
        whose transaction reads one snapshot from its first statement to its end, the
        highest seq is asked of the subject index's last entry (~5 µs) rather than read
        with every record (a thousand records: ~80 µs); a PostgreSQL transaction reads
        each statement's own snapshot, so there it comes with the records."""
        if conn.dialect.name == "sqlite":
            records = self.records_of(subject, conn)  # begins the transaction if need be
            top = driver_rows(conn, f"SELECT max(seq) FROM {s.records.name} WHERE "
                              "subject = ?", (subject,))[0][0]
            return records, (len(records), None if top is None else int(top))
        sql = ("SELECT record_id, provider, type, kind, occurred_at, recorded_at, value_num, "
               f"value_text, evidence, ref, ingested_at, seq FROM {s.records.name} WHERE "
               f"subject = {self._mark(conn)}")
        records, top = driver_read(conn, sql, (subject,),
                                   lambda rows: records_and_top(rows, subject))
        return records, (len(records), top)

    def records_after(self, subject: str, seq: int, conn: Connection
                      ) -> tuple[list[Record], int | None]:
        """The subject's records with a seq above `seq`, in seq order, and the highest
        seq among them: what a reader keeping the records reads after new ones came."""
        sql = ("SELECT record_id, provider, type, kind, occurred_at, recorded_at, value_num, "
               f"value_text, evidence, ref, ingested_at, seq FROM {s.records.name} WHERE "
               f"subject = {self._mark(conn)} AND seq > {self._mark(conn)} ORDER BY seq")
        return driver_read(conn, sql, (subject, seq),
                           lambda rows: records_and_top(rows, subject))

    def records_mark(self, subject: str, conn: Connection) -> tuple[int, int | None]:
        """(how many records, the highest seq) of one subject, from the subject index
        alone. Records are appended with increasing seqs and only retention deletes
        them, so an unchanged mark means unchanged records — unless an erasure of the
        ledger's newest record let SQLite hand its seq out again (the caller watches
        retention runs for that)."""
        row = driver_rows(conn, f"SELECT count(*), max(seq) FROM {s.records.name} WHERE "
                          f"subject = {self._mark(conn)}", (subject,))[0]
        return int(row[0]), (None if row[1] is None else int(row[1]))

    def records_of_subjects(self, conn: Connection, subjects: Sequence[str],
                            types: Sequence[str] | None = None) -> dict[str, list[Record]]:
        """records_of for many subjects in one statement (an ingest's notices read the
        files of every subject it lists), each subject's records in the order
        records_of gives them; with `types`, only records of those types and the voids
        and resolutions (what a record-triggered listing depends on)."""
        if not subjects:
            return {}
        where, keys = in_keys(conn, "subject", subjects)
        params: tuple[Any, ...] = (keys,)
        if types is not None:
            of_type, names = in_keys(conn, "type", sorted(types))
            where += f" AND (kind IN ('void', 'resolution') OR {of_type})"
            params = (keys, names)
        sql = ("SELECT record_id, provider, subject, type, kind, occurred_at, recorded_at, "
               f"value_num, value_text, evidence, ref, ingested_at FROM {s.records.name} "
               f"WHERE {where} ORDER BY subject, seq")
        out: dict[str, list[Record]] = {}
        for r in conn.exec_driver_sql(sql, params).fetchall():
            got = out.get(r[2])
            if got is None:
                got = out[r[2]] = []
            got.append(Record(*r))
        return out

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
                                       c.value_text, c.evidence, c.ref, c.ingested_at)):
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


def resolvers(rb: Rulebook, type_id: str) -> dict[str, frozenset[str]]:
    """Resolution type -> provider roles that may file it against `type_id`, as `rb`
    declares it (empty: nothing may resolve such a record)."""
    t = rb.types.get(type_id)
    out: dict[str, frozenset[str]] = {}
    for res in (t.resolved_by or ()) if t is not None else ():
        target = rb.types.get(res.type)
        roles = res.providers if res.providers is not None else (
            target.providers if target is not None else ())
        out[res.type] = out.get(res.type, frozenset()) | frozenset(roles)
    return out


def _show(res: dict[str, frozenset[str]]) -> str:
    if not res:
        return "nothing"
    return "; ".join(f"{k} ({', '.join(sorted(v))})" for k, v in sorted(res.items()))


__all__ = ["CHUNK", "Clock", "Ledger", "busy", "resolvers"]
