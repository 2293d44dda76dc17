"""The ASGI application: one Service for the process, a principal per request.

Every route is a thin face over one service operation: the service checks the role
(service/authz.py), logs reads of a subject's data by others in the subject's access
log, and runs the unit of work. Routes are grouped by party in routes.py; this module
wires authentication, limits, errors, metrics and access logs around them.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socialcredit import __version__
from socialcredit.api.auth import RateLimiter, TokenCache
from socialcredit.api.metrics import Metrics
from socialcredit.api.misses import GatheredMisses
from socialcredit.api.problems import (
    document_problems,
    on_http_error,
    on_service_error,
    on_validation_error,
    problem,
)
from socialcredit.errors import SocialCreditError
from socialcredit.principals import OPERATOR, Principal
from socialcredit.service import Service

#: The largest request body accepted (a batch of records included).
MAX_BODY = 32 * 1024 * 1024
#: services acting as one principal each, kept at most (State.acting)
ACTING_SIZE = 10_000

access_log = logging.getLogger("socialcredit.api.access")


class State:
    """What every request shares: the service (with group commit for decisions), the
    token cache, the rate limiter and the metrics."""

    def __init__(self, svc: Service, *, rate: float, burst: float, exports: Path) -> None:
        self.svc = svc
        self.exports = exports
        self.tokens = TokenCache()
        self.limits = RateLimiter(rate=rate, burst=burst)
        self.metrics = Metrics(self._backlog)
        #: decisions missing the cache read together (None: each reads its own)
        self.misses: GatheredMisses | None = GatheredMisses(svc)
        self._acting: dict[Principal, Service] = {}

    def acting(self, principal: Principal) -> Service:
        """The service as `principal`, made once per principal (a Service and its
        operations' facades cost about as much to make as a cached decision's routing):
        a principal is an immutable value, and whether its token is still good is the
        token cache's question, asked on every request before this."""
        got = self._acting.get(principal)
        if got is None:
            if len(self._acting) >= ACTING_SIZE:
                self._acting.clear()  # bounded: principals come and go
            got = self._acting[principal] = self.svc.acting_as(principal)
        return got

    def _backlog(self) -> float:
        try:
            counts = self.svc.acting_as(OPERATOR).outbox.status()
        except SocialCreditError:
            return float("nan")
        return float(counts.get("pending", 0))


def create_app(db_url: str | None = None, *, web: ASGIApp | bool | None = None,
               service: Service | None = None, rate: float = 1000.0,
               burst: float = 2000.0, exports: Path | None = None,
               lean: bool = True) -> FastAPI:
    """The API over the ledger at `db_url` (or an open `service`); `web`, when given, is
    mounted at `/` (the pages, on the same service layer); `web=True` mounts the pages
    of socialcredit.web with the API's token cache and rate limits. Exports made over
    HTTP are kept in `exports` ($SOCIALCREDIT_EXPORTS, else socialcredit-exports in the
    system's temporary directory): every worker of one server must see the same
    directory. `lean=False` leaves every request to FastAPI's routes, the lean decision
    handler (lean.py) out: the plain path the tests hold it equal to."""
    from socialcredit.api import lean as leaner
    from socialcredit.api import routes

    svc = (service if service is not None else Service.open(db_url)).with_group_commit()
    owned = service is None

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:  # a service handed in stays its owner's to close
            svc.close()

    app = FastAPI(title="socialcredit", version=__version__,
                  summary="An open, accountable social credit system: every party's API",
                  openapi_url="/openapi.json", docs_url="/docs", redoc_url=None,
                  lifespan=lifespan)
    if exports is None:
        exports = Path(os.environ.get("SOCIALCREDIT_EXPORTS")
                       or Path(tempfile.gettempdir()) / "socialcredit-exports")
    state = State(svc, rate=rate, burst=burst, exports=exports)
    app.state.sc = state
    app.add_exception_handler(SocialCreditError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)

    fast: dict[tuple[str, str], Lean] = leaner.handlers(state) if lean else {}
    app.add_middleware(Observe, state=state, lean=fast)
    routes.mount(app)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    if web is True:
        from socialcredit.web import create_web_app

        web = create_web_app(svc, tokens=state.tokens, limits=state.limits)
    if web is not None and web is not False:
        app.mount("/", web)

    return app


#: a lean handler for one (method, path): called with the request and the full app to
#: hand it to for anything it does not answer itself (see lean.py)
Lean = Callable[[Scope, Receive, Send, ASGIApp], Awaitable[None]]

_random = threading.local()


def request_id() -> str:
    """A new request id: 32 hex digits of a random (version 4) UUID, as uuid4().hex
    makes it, from os.urandom read 4 KiB at a time (one system call per request costs
    more than the rest of this middleware)."""
    pool: bytes = getattr(_random, "pool", b"")
    if len(pool) < 16:
        pool = os.urandom(4096)
    b = bytearray(pool[:16])
    _random.pool = pool[16:]
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
    return b.hex()


def _bounded(receive: Receive, limit: int) -> Receive:
    """`receive` for a body sent without a length (chunked): past `limit` bytes it
    raises a 413 where the body is being read — the app's handler answers it as the
    problem a declared length over the limit gets — instead of buffering it all."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise StarletteHTTPException(
                    413, f"a request body may have at most {limit} bytes")
        return message

    return counted


class Observe:
    """Body-size limit, request ids, metrics and the JSON access log around every request.

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` (what `@app.middleware`
    builds) costs about half of a small request's time on this machine. Requests with
    a handler in `lean` (the decision route) go to it rather than through FastAPI's
    router; it hands back to the router whatever it does not answer itself."""

    def __init__(self, app: ASGIApp, state: State,
                 lean: dict[tuple[str, str], Lean] | None = None) -> None:
        self.app = app
        self.state = state
        self.lean = lean if lean is not None else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id")
        request_id_ = given.decode("latin-1")[:200] if given else ""
        if not request_id_:
            request_id_ = request_id()
        echoed = (b"x-request-id", request_id_.encode("latin-1"))
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        try:
            length = headers.get(b"content-length")
            if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
                await problem(413, "request.too_large",
                              f"a request body may have at most {MAX_BODY} bytes",
                              instance=scope["path"])(scope, receive, sending)
            else:
                if length is None:  # chunked: counted as it comes
                    receive = _bounded(receive, MAX_BODY)
                lean = self.lean.get((scope["method"], scope["path"])) \
                    if not scope.get("root_path") else None
                if lean is not None:
                    await lean(scope, receive, sending, self.app)
                else:
                    await self.app(scope, receive, sending)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            elapsed = time.perf_counter() - started
            count, latency = self.state.metrics.request(scope["method"], path, status)
            count.inc()
            latency.observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                line = access_line(request_id_, scope["method"], path, status,
                                   round(elapsed * 1000, 3),
                                   getattr(scope.get("sc.principal"), "id", None))
                lines = access_log.handlers
                if len(lines) == 1 and type(lines[0]) is AccessLines \
                        and not access_log.filters:
                    lines[0].write(line)  # what the record would come to, without it
                else:
                    access_log.info(line)


_enc = json.encoder.encode_basestring_ascii


def access_line(request_id_: str, method: str, route: str, status: int, ms: float,
                principal: str | None) -> str:
    """The access log's JSON line, as `json.dumps` of the dict of these fields writes it
    (the same keys in the same order, the same escapes), in a third of its time."""
    who = "null" if principal is None else _enc(principal)
    return (f'{{"request_id": {_enc(request_id_)}, "method": {_enc(method)}, '
            f'"route": {_enc(route)}, "status": {status}, "ms": {ms!r}, '
            f'"principal": {who}}}')


class AccessLines(logging.Handler):
    """The access log's handler: each line written at once with one system call on the
    stream's file descriptor (standard error). Through logging's StreamHandler — a
    record made, formatted, written and flushed — a line cost most of the middleware's
    time per request; Observe hands its lines to `write` directly while this is the
    logger's only handler and it has no filters (else as records, through logging)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__()
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.fd: int | None = self.stream.fileno()
        except (AttributeError, OSError, ValueError):  # a stream without a descriptor
            self.fd = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.write(self.format(record))
        except Exception:
            self.handleError(record)

    def write(self, line: str) -> None:
        if self.fd is None:
            self.stream.write(line + "\n")
            self.stream.flush()
            return
        data = (line + "\n").encode("utf-8", "backslashreplace")
        while data:
            data = data[os.write(self.fd, data):]


def configure_access_log() -> None:
    """JSON lines on standard error, one per request (for `serve`)."""
    access_log.addHandler(AccessLines())
    access_log.setLevel(logging.INFO)
    access_log.propagate = False




#: the collector's thresholds in a server (Python's defaults: 700, 10, 10)
SERVER_GC_THRESHOLDS = (50_000, 20, 100)


def settle_heap() -> None:
    """Keep the garbage collector's full collections off the requests, once the app is
    made and before it serves. A full collection scans every tracked object and holds
    every request in flight meanwhile: the ~160,000 built at start-up (modules, FastAPI's
    and pydantic's schemas, the routes) are frozen out of it (`gc.freeze`), and the
    thresholds are raised, because at the defaults the objects of requests in flight
    (alive a few milliseconds) were promoted to the oldest generation at such a rate
    that full collections ran every second or two, 30–95 ms each and collecting
    nothing. Measured on decisions over HTTP (2026-12-07): p99 76 → 20 ms on a
    20,000-subject ledger, 42–275 → 23 ms on a 1,000,000-subject one; cyclic garbage
    waits longer to be freed. Only for a server process: what is frozen is never
    collected, so a process that makes many apps (a test suite) must not call it."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_GC_THRESHOLDS)


def from_environment() -> FastAPI:
    """The app for a worker process started by `serve --workers N` (uvicorn imports it
    by name): the ledger from $SOCIALCREDIT_DB, the rate from $SOCIALCREDIT_API_RATE."""
    configure_access_log()
    app = create_app(None, rate=float(os.environ.get("SOCIALCREDIT_API_RATE", "1000")),
                     web=os.environ.get("SOCIALCREDIT_WEB", "0") == "1")
    settle_heap()
    return app
