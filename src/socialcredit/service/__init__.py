"""The service layer: the only composer of the domain.

Every interface — the command line, the HTTP API, the web pages, the policy lab — acts
through a `Service`. It owns the unit of work (one transaction per operation), and it
is the one place that combines the ledger (storage), the engines (scoring), decisions
and the transparency log (the event sink). Operations take and return plain data:
mappings of record fields in, reports, standings, decisions and dicts out.

    svc = Service.create(load_rulebook("rulebooks/rongcheng.yaml"), "ledger.db")
    svc.providers.add("bank-01", "bank")
    svc.records.ingest_rows([{...}, ...])
    svc.standings.of("alice")
    svc.decisions.decide("alice", "rental.bike")
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socialcredit.errors import LedgerError
from socialcredit.events import EventSink
from socialcredit.ledger.store import Clock, Ledger
from socialcredit.principals import Principal
from socialcredit.rulebook.baseline import enforce_baseline
from socialcredit.rulebook.catalogue import Catalogue
from socialcredit.rulebook.model import Rulebook
from socialcredit.service.context import Context
from socialcredit.timeutil import now_us

if TYPE_CHECKING:
    from socialcredit.service.cases import Cases, Repairs
    from socialcredit.service.consents import AccessLog, Consents
    from socialcredit.service.decisions import Decisions
    from socialcredit.service.exports import Exports
    from socialcredit.service.files import Files
    from socialcredit.service.impact import Impact
    from socialcredit.service.ingest import Records
    from socialcredit.service.jobs import Jobs
    from socialcredit.service.log import Log
    from socialcredit.service.notices import Notices, Outbox
    from socialcredit.service.population import Population
    from socialcredit.service.principals import Principals
    from socialcredit.service.programs import Catalogues, Programs, Providers
    from socialcredit.service.public import PublicLists
    from socialcredit.service.retention import Retention
    from socialcredit.service.standings import Standings
    from socialcredit.service.submissions import Submissions

SCHEMA_VERSION = "1"


def _sink() -> EventSink:
    from socialcredit.transparency.sink import TransparencySink

    return TransparencySink()


def default_origin(ledger: Ledger) -> str:
    """The log's name when the operator gives none: the ledger's own name (its database
    file or database), so one log names the whole ledger, not one of its programs."""
    name = ledger.engine.url.database or "ledger"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.rsplit("/", 1)[-1].removesuffix(".db"))
    return f"socialcredit/{stem.strip('-') or 'ledger'}"


class Service:
    def __init__(self, ctx: Context) -> None:
        if ctx.cache is None:
            from socialcredit.service.standing_cache import StandingCache

            ctx.cache = StandingCache(ctx.ledger)
        self.ctx = ctx

    # -- opening, creating, upgrading ------------------------------------------------

    @classmethod
    def open(cls, db: str | None = None, *, clock: Clock = now_us) -> Service:
        """An existing ledger, at the schema revision this release runs on."""
        from socialcredit.migrations import check_current

        ledger = Ledger.connect(db, clock)
        if not ledger.exists():
            ledger.close()
            raise LedgerError(f"no ledger at {ledger.display_url}", code="ledger.missing")
        with ledger.engine.connect() as conn:
            try:
                check_current(conn)
            except LedgerError:
                ledger.close()
                raise
        return cls(Context(ledger, _sink()))

    @classmethod
    def create(cls, rulebook: Rulebook, db: str | None = None, *, clock: Clock = now_us,
               effective: int | None = None, origin: str | None = None,
               catalogue: Catalogue | None = None, partitions: int | None = None
               ) -> Service:
        """A new ledger with a first program (and the catalogue it cites: `catalogue`,
        or the shipped one of that name). Refuses a rulebook that crosses a line before
        anything is created; run again after a failed first publication, it finishes the
        ledger rather than refusing. `partitions` > 1 hash-partitions a PostgreSQL
        ledger's large tables by subject (ledger/partitioning.py)."""
        enforce_baseline(rulebook)
        svc = cls.create_empty(db, clock=clock, origin=origin, partitions=partitions)
        if svc.ledger.program_versions():
            svc.close()
            raise LedgerError(f"a ledger already exists at {svc.ledger.display_url}",
                              code="ledger.exists")
        try:
            svc.programs.publish(rulebook, effective=effective, catalogue=catalogue)
        except BaseException:
            svc.close()
            raise
        return svc

    @classmethod
    def create_empty(cls, db: str | None = None, *, clock: Clock = now_us,
                     origin: str | None = None, partitions: int | None = None) -> Service:
        """A ledger without programs (or the existing one): schema, log, signing key.
        An existing ledger keeps its layout: asking for another number of partitions
        is refused."""
        from sqlalchemy import select

        from socialcredit.migrations import check_current, create_schema
        from socialcredit.transparency.checkpoint import create_key
        from socialcredit.transparency.schema import create_tables, keys

        ledger = Ledger.connect(db, clock)
        with ledger.engine.begin() as conn:
            if ledger.exists():
                check_current(conn)
                have = ledger.partitions(conn)
                if partitions is not None and partitions != have:
                    ledger.close()
                    raise LedgerError(
                        f"the ledger at {ledger.display_url} exists with "
                        f"{have} partition(s); its layout is chosen when it is created",
                        code="ledger.exists")
            else:
                create_schema(conn, partitions)
            create_tables(conn)
            ledger.set_meta(conn, "schema_version", SCHEMA_VERSION)
            ledger.set_meta(conn, "created_at", str(ledger.clock()))
            ledger.init_clock(conn)
            if conn.execute(select(keys.c.id)).first() is None:
                create_key(conn, origin=origin or default_origin(ledger))
        return cls(Context(ledger, _sink()))

    @staticmethod
    def upgrade(db: str | None = None) -> tuple[str | None, str]:
        """Bring a ledger's schema to this release's revision (`db upgrade`); in the same
        transaction, move a pre-0201 ledger's signing key out of the database and encrypt
        its subject salts (transparency/keys.py), and make a SQLite file private (0600)."""
        from socialcredit.db import restrict_sqlite_files
        from socialcredit.migrations import upgrade
        from socialcredit.transparency.keys import move_secrets_out

        ledger = Ledger.connect(db)
        try:
            if not ledger.exists():
                raise LedgerError(f"no ledger at {ledger.display_url}", code="ledger.missing")
            with ledger.engine.begin() as conn:
                revisions = upgrade(conn)
                move_secrets_out(conn)
            restrict_sqlite_files(ledger.url)
            return revisions
        finally:
            ledger.close()

    def backup(self, dest: Path) -> dict[str, Any]:
        """A consistent copy of the ledger in a new file (SQLite's online backup, or
        pg_dump); the key directory is not in it (service/backup.py)."""
        from socialcredit.service.backup import backup

        return backup(self.ledger, dest)

    @staticmethod
    def restore(src: Path, db: str | None = None) -> dict[str, Any]:
        """Restore a backup into an address that holds no ledger yet."""
        from socialcredit.service.backup import restore

        return restore(src, db)

    def partitions(self) -> int:
        """How many hash partitions by subject the ledger's large tables have (1: none)."""
        with self.ledger.engine.connect() as conn:
            return self.ledger.partitions(conn)

    # -- the parts ------------------------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        return self.ctx.ledger

    @cached_property
    def programs(self) -> Programs:
        from socialcredit.service.programs import Programs

        return Programs(self.ctx)

    @cached_property
    def catalogues(self) -> Catalogues:
        from socialcredit.service.programs import Catalogues

        return Catalogues(self.ctx)

    @cached_property
    def providers(self) -> Providers:
        from socialcredit.service.programs import Providers

        return Providers(self.ctx)

    @cached_property
    def records(self) -> Records:
        from socialcredit.service.ingest import Records

        return Records(self.ctx)

    @cached_property
    def standings(self) -> Standings:
        from socialcredit.service.standings import Standings

        return Standings(self.ctx)

    @cached_property
    def decisions(self) -> Decisions:
        from socialcredit.service.decisions import Decisions

        return Decisions(self.ctx)

    @cached_property
    def population(self) -> Population:
        from socialcredit.service.population import Population

        return Population(self.ctx)

    @cached_property
    def impact(self) -> Impact:
        from socialcredit.service.impact import Impact

        return Impact(self.ctx)

    @cached_property
    def log(self) -> Log:
        from socialcredit.service.log import Log

        return Log(self.ctx)

    # -- due process and the subject's rights ---------------------------------------------

    @cached_property
    def principals(self) -> Principals:
        from socialcredit.service.principals import Principals

        return Principals(self.ctx)

    @cached_property
    def notices(self) -> Notices:
        from socialcredit.service.notices import Notices

        return Notices(self.ctx)

    @cached_property
    def outbox(self) -> Outbox:
        from socialcredit.service.notices import Outbox

        return Outbox(self.ctx)

    @cached_property
    def cases(self) -> Cases:
        from socialcredit.service.cases import Cases

        return Cases(self.ctx)

    @cached_property
    def repairs(self) -> Repairs:
        from socialcredit.service.cases import Repairs

        return Repairs(self.ctx)

    @cached_property
    def consents(self) -> Consents:
        from socialcredit.service.consents import Consents

        return Consents(self.ctx)

    @cached_property
    def access(self) -> AccessLog:
        from socialcredit.service.consents import AccessLog

        return AccessLog(self.ctx)

    @cached_property
    def files(self) -> Files:
        from socialcredit.service.files import Files

        return Files(self.ctx)

    @cached_property
    def retention(self) -> Retention:
        from socialcredit.service.retention import Retention

        return Retention(self.ctx)

    # -- the network faces ------------------------------------------------------------------

    @cached_property
    def submissions(self) -> Submissions:
        from socialcredit.service.submissions import Submissions

        return Submissions(self.ctx)

    @cached_property
    def public(self) -> PublicLists:
        from socialcredit.service.public import PublicLists

        return PublicLists(self.ctx)

    @cached_property
    def jobs(self) -> Jobs:
        from socialcredit.service.jobs import Jobs

        return Jobs(self.ctx)

    @cached_property
    def exports(self) -> Exports:
        from socialcredit.service.exports import Exports

        return Exports(self.ctx)

    def authorize(self, operation: str) -> None:
        """Refuse unless the acting principal may take `operation` (service/authz.py):
        for what a face serves itself without another service operation (its metrics)."""
        self.ctx.allow(operation)

    def ready(self) -> dict[str, Any]:
        """Whether the ledger answers and its schema is this release's: for a readiness
        probe (no principal needed, nothing about anyone)."""
        from socialcredit.migrations import HEAD, revision_of

        with self.ctx.read() as conn:
            revision = revision_of(conn)
        return {"database": True, "revision": revision, "expected": HEAD,
                "migrations_current": revision == HEAD}

    def with_group_commit(self) -> Service:
        """The same ledger with decisions committed in groups (service/commit.py): for a
        server answering many requests at once. Services acting as others share it."""
        from dataclasses import replace

        from socialcredit.service.commit import GroupCommit

        if self.ctx.committer is not None:
            return self
        return Service(replace(self.ctx, committer=GroupCommit(self.ctx.ledger.engine)))

    def decides_from_memory(self, subject: str, program: str | None = None) -> bool:
        """Whether a materialized decision about `subject` by the acting principal would
        find what it reads in the process's cache (service/prefetch.py)."""
        from socialcredit.service.prefetch import in_memory

        return in_memory(self.ctx, self.ctx.principal, subject, program)

    def prefetch_decisions(self, asks: Sequence[tuple[Principal, str, str | None]]) -> int:
        """Read what the materialized decisions `asks` — (principal, subject, program)
        each — need and the process's cache lacks, in one read transaction, into the
        cache (service/prefetch.py); the decisions are then made as ever. Returns how
        many standing rows were read."""
        from socialcredit.service.prefetch import prefetch

        return prefetch(self.ctx, asks)

    # -- who acts ---------------------------------------------------------------------------

    @property
    def principal(self) -> Principal:
        return self.ctx.principal

    def acting_as(self, principal: Principal | str) -> Service:
        """The same ledger, acted on by another principal (a named one is looked up in
        the principal store: it must exist and not be revoked). Both share one engine:
        close either."""
        from dataclasses import replace

        if isinstance(principal, str):
            principal = self.principals.get(principal)
        return Service(replace(self.ctx, principal=principal))

    def now(self) -> int:
        return self.ctx.now()

    def close(self) -> None:
        """Wait (bounded) for this ledger's background jobs in this process, then close
        the committer, the cache and the ledger's connections."""
        from socialcredit.service.jobs import wait_for_jobs

        wait_for_jobs(self.ctx.ledger)
        if self.ctx.committer is not None:
            self.ctx.committer.close()
        if self.ctx.cache is not None:
            self.ctx.cache.close()
        self.ctx.ledger.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Service"]
