"""Decisions that miss the process's cache, gathered: their reads made in one
transaction on one worker thread (Service.prefetch_decisions).

A relying party asking about many people once each misses the cache on nearly every
decision, and each miss read alone — a thread hand-off, a transaction, its statements —
cost about as much as the rest of the request. Here the misses that arrive while a read
is under way wait for the next one, which reads them all: under load a read serves many
decisions; alone, a miss is read at once, as before. The decisions are then made by the
service as ever (authorized, access-logged, logged), from memory: what is read here is
only kept in the cache. If the gathered read fails, each decision reads for itself and
reports what fails, as without it.
"""

from __future__ import annotations

import asyncio

from socialcredit.principals import Principal
from socialcredit.service import Service


class GatheredMisses:
    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self._asks: list[tuple[Principal, str, str | None]] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._reader: asyncio.Task[None] | None = None
        self.reads = 0  # statistics (tests): gathered reads made, decisions they served
        self.served = 0

    async def read(self, principal: Principal, subject: str, program: str | None) -> None:
        """Return once what a decision about `subject` reads is in the cache (or its
        read has failed: the decision then reads it itself)."""
        waiting: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._asks.append((principal, subject, program))
        self._waiting.append(waiting)
        if self._reader is None:
            self._reader = asyncio.ensure_future(self._read())
        await waiting

    async def _read(self) -> None:
        try:
            while self._asks:
                asks, waiting = self._asks, self._waiting
                self._asks, self._waiting = [], []
                try:
                    await asyncio.to_thread(self.svc.prefetch_decisions, asks)
                except Exception:  # each decision then reads for itself
                    pass
                finally:
                    self.reads += 1
                    self.served += len(asks)
                    _release(waiting)
        finally:
            self._reader = None
            waiting, self._waiting, self._asks = self._waiting, [], []
            _release(waiting)


def _release(waiting: list[asyncio.Future[None]]) -> None:
    for w in waiting:
        if not w.done():
            w.set_result(None)


__all__ = ["GatheredMisses"]
