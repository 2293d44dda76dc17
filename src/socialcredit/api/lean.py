"""The decision route without FastAPI's per-request machinery, answering exactly as the
route in routes.py does.

Relying parties ask for decisions thousands of times a second, and around a decision
read from memory (a fraction of a millisecond) FastAPI's router, dependency solving,
body validation and response validation cost as much again. This handler answers
`POST /api/v1/decisions` in the common case with one call each: the body parsed and
validated by pydantic-core straight from bytes, the token and rate limit checked as
`authenticated` does, the decision made by the very function the FastAPI route calls,
and the answer validated and serialized with the route's response model in one pass.

Whatever it does not answer itself goes to the FastAPI route, unchanged: a body that is
not a valid `DecisionIn` in JSON (the route then reports the problems, located, in its
own words) or any other content type — with the request's body replayed, so the route
sees the request byte for byte. The route stays the contract: the OpenAPI document is
generated from it, and Observe (app.py) counts, times and logs both alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socialcredit.api import responses, routes
from socialcredit.api.app import State
from socialcredit.api.problems import on_http_error, on_service_error
from socialcredit.errors import SocialCreditError

PATH = "/api/v1/decisions"
_JSON = b"application/json"
_ANSWER = TypeAdapter(responses.Decision)
#: the answer's headers as starlette's Response(media_type="application/json") writes
#: them (content-length first), the length filled in per answer
_TYPE = (b"content-type", b"application/json")


@dataclass(frozen=True)
class _Route:
    """What Observe reads of the matched route (its path template, for metrics)."""

    path: str


_ROUTE = _Route(PATH)


def _json(value: bytes | None) -> bool:
    """Whether a content type says the body is JSON plainly (`application/json`, with
    parameters or not): any other spelling goes to the route, which decides."""
    return value is not None and value.split(b";", 1)[0].strip().lower() == _JSON


def _first(headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bytes | None]:
    """The request's first content type and authorization, as starlette's Headers.get
    finds them (header names arrive lower-cased), in one pass over the headers."""
    kind = auth = None
    for name, value in headers:
        if name == b"content-type":
            if kind is None:
                kind = value
        elif name == b"authorization" and auth is None:
            auth = value
    return kind, auth


async def _body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """The messages read and the whole body (None: the client went away first)."""
    received: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return received, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return received, chunks[0] if len(chunks) == 1 else b"".join(chunks)


class Decide:
    """`POST /api/v1/decisions` for the app whose State it holds (see the module
    docstring). Called by Observe with the full application to hand the request to
    when it does not answer it itself."""

    def __init__(self, state: State) -> None:
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send,
                       full: ASGIApp) -> None:
        scope["route"] = _ROUTE  # matched, as the router would have before the body
        try:
            received, body = await _body(receive)
        except StarletteHTTPException as e:  # a chunked body past the limit (app.py)
            refused = await on_http_error(Request(scope, receive), e)
            await refused(scope, receive, send)
            return
        if body is None:  # the client went away: as the route does
            await full(scope, _replay(received, receive), send)
            return
        kind, auth = _first(scope["headers"])
        try:
            if not body or not _json(kind):
                raise ValueError("not plainly JSON")
            asked = routes.DecisionIn.model_validate_json(body)
        except (ValidationError, ValueError):
            await full(scope, _replay(received, receive), send)
            return
        st = self.state
        try:
            # as `routes.authenticated`: a token verified lately from memory, a new one
            # checked (slowly) on a worker thread; then the principal's rate limit
            principal = st.tokens.cached(None if auth is None else auth.decode("latin-1"))
            if principal is None:
                await run_in_threadpool(routes.authenticate, Request(scope, receive))
                principal = scope["sc.principal"]
            else:
                scope["sc.principal"] = principal
                st.limits.take(principal.id)
            content = await routes.decision_as(st, st.acting(principal), asked)
        except SocialCreditError as e:  # as the app's exception handler answers it
            response = await on_service_error(Request(scope, receive), e)
            await response(scope, receive, send)
            return
        # as FastAPI answers a route with a response model: validated, then dumped; and
        # as starlette's Response sends it: its head, then its body
        answer = _ANSWER.dump_json(_ANSWER.validate_python(content, from_attributes=True),
                                   by_alias=True, exclude_unset=True)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(answer)).encode()), _TYPE]})
        await send({"type": "http.response.body", "body": answer})


def _replay(received: list[Message], receive: Receive) -> Receive:
    """`receive` with the messages already taken given again first."""
    pending = list(received)

    async def again() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return again


def handlers(state: State) -> dict[tuple[str, str], Callable[
        [Scope, Receive, Send, ASGIApp], Awaitable[None]]]:
    """The lean handlers of the app sharing `state`, by (method, path), for Observe."""
    return {("POST", PATH): Decide(state)}


__all__ = ["PATH", "Decide", "handlers"]
