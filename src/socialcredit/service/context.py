"""What every service operation shares: the ledger, the event sink, the unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Connection

from socialcredit.errors import UsageError
from socialcredit.events import EventSink
from socialcredit.identifiers.subject import InvalidId, normalize_subject
from socialcredit.ledger.store import Ledger
from socialcredit.principals import OPERATOR, Principal
from socialcredit.service.authz import authorize

if TYPE_CHECKING:
    from socialcredit.service.commit import GroupCommit
    from socialcredit.service.standing_cache import StandingCache

T = TypeVar("T")

#: ASCII spellings of subject ids -> their one spelling, memoized: every decision
#: normalizes its subject, and a server sees the same ids again and again
_IDS: dict[str, str] = {}
_MAX_IDS = 100_000


@dataclass
class Context:
    ledger: Ledger
    sink: EventSink
    principal: Principal = field(default=OPERATOR)
    #: commits small units of work together (service/commit.py); None: one each
    committer: GroupCommit | None = None
    #: materialized rows in memory, exact (service/standing_cache.py); set by Service
    cache: StandingCache | None = None

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads that need one consistent view."""
        with self.ledger.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """The unit of work: one transaction. Everything an operation changes — records,
        events in the public log, materialized standings — commits together or not at
        all, under the ledger's write lock (so transaction times follow commit order)."""
        with self.ledger.write() as conn:
            yield conn

    def commit(self, unit: Callable[[Connection], T]) -> T:
        """A small unit of work (a decision's log rows), committed with others waiting
        at the same moment when a group committer runs, else in a transaction of its
        own. Returns once it is committed."""
        if self.committer is not None:
            return self.committer.run(unit)
        with self.write() as conn:
            return unit(conn)

    def commit_async(self, unit: Callable[[Connection], T]) -> Awaitable[T]:
        """`commit` for a caller on an event loop (call it there, await what it returns):
        it awaits the group's commit without holding a thread (a server's requests in
        flight all wait on the same commit, so groups grow with the load). Without a
        group committer the unit runs on a worker thread, in a transaction of its own."""
        if self.committer is not None:
            return self.committer.run_async(unit)
        return asyncio.to_thread(self.commit, unit)

    def reads(self, *, blocking: bool = True) -> Reads:
        """One read transaction shared by whatever an operation reads (`with
        ctx.reads() as reads`), opened only if something asks for it (`Reads.conn`): a
        decision served from the in-process cache opens none, a decision that misses it
        opens one, not one per look-up. With blocking=False none is opened: asking for
        one raises `WouldBlock` (an event loop tries an operation so, and runs it on a
        thread if it must read)."""
        return Reads(self, blocking=blocking)

    def allow(self, operation: str, subject: str | None = None) -> None:
        """The one authorization check (service/authz.py) every operation makes."""
        authorize(self.principal, operation, subject)

    def subject_id(self, subject: str) -> str:
        """The one spelling of a subject id (identifiers.subject): every entry point —
        ingest, standing, check, log mine, the API — looks subjects up by it."""
        got = _IDS.get(subject) if type(subject) is str else None
        if got is not None:
            return got
        try:
            if isinstance(subject, str) and subject.isascii():  # scripts do not matter
                got = normalize_subject(subject)
                if len(_IDS) >= _MAX_IDS:
                    _IDS.clear()
                _IDS[subject] = got
                return got
            with self.read() as conn:
                mixed = self.ledger.mixed_scripts_allowed(conn)
            return normalize_subject(subject, mixed_scripts=mixed)
        except InvalidId as exc:
            raise UsageError(f"subject: {exc}",
                             details=[{"field": "subject", "message": str(exc)}]) from None

    def now(self) -> int:
        """The ledger's clock (never earlier than anything recorded)."""
        with self.read() as conn:
            return self.ledger.tick(conn)


class WouldBlock(Exception):
    """What was asked must be read from the database (`Context.reads(blocking=False)`):
    not a failure, a signal to ask again where waiting on the database is fine."""


class Reads:
    """A read connection opened on first use (see `Context.reads`); a context manager
    of its own, so that a read served from memory costs no generator and no stack."""

    def __init__(self, ctx: Context, *, blocking: bool = True) -> None:
        self._ctx = ctx
        self._blocking = blocking
        self._stack: ExitStack | None = None
        self._conn: Connection | None = None
        #: the process cache's (row, consent) generations just before the connection
        #: opened — before its snapshot began: what is read on it may be kept in the
        #: cache only if neither moved since (StandingCache.generations_for)
        self.generations: tuple[int, int] | None = None

    def __enter__(self) -> Reads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def conn(self) -> Connection:
        if self._conn is None:
            if not self._blocking:
                raise WouldBlock("this needs a read from the database")
            cache = self._ctx.cache
            if cache is not None:
                self.generations = (cache.generation, cache.consent_generation)
            self._stack = ExitStack()
            self._conn = self._stack.enter_context(self._ctx.read())
        return self._conn

    @property
    def opened(self) -> bool:
        return self._conn is not None

    def close(self) -> None:
        self._conn = None
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()


__all__ = ["Context", "Reads", "WouldBlock"]
