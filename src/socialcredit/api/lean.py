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
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socialcredit.api import responses, routes
from socialcredit.api.problems import on_http_error, on_service_error
from socialcredit.errors import SocialCreditError

PATH = "/api/v1/decisions"
_JSON = b"application/json"
_ANSWER = TypeAdapter(responses.Decision)


@dataclass(frozen=True)
class _Route:
    """What Observe reads of the matched route (its path template, for metrics)."""

    path: str


_ROUTE = _Route(PATH)


def _json(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the request says its body is JSON plainly (`application/json`, with
    parameters or not): any other spelling goes to the route, which decides."""
    for name, value in headers:
        if name == b"content-type":
            return value.split(b";", 1)[0].strip().lower() == _JSON
    return False


async def decide(scope: Scope, receive: Receive, send: Send, full: ASGIApp) -> None:
    """`POST /api/v1/decisions` (see the module docstring); `full` is the application
    it hands the request to when it does not answer it itself."""
    received: list[Message] = []
    chunks: list[bytes] = []
    while True:
        try:
            message = await receive()
        except StarletteHTTPException as e:  # a chunked body past the limit (app.py)
            refused = await on_http_error(Request(scope, receive), e)
            await refused(scope, receive, send)
            return
        received.append(message)
        if message["type"] != "http.request":  # the client went away: as the route does
            await full(scope, _replay(received, receive), send)
            return
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    try:
        if not body or not _json(scope["headers"]):
            raise ValueError("not plainly JSON")
        asked = routes.DecisionIn.model_validate_json(body)
    except (ValidationError, ValueError):
        await full(scope, _replay(received, receive), send)
        return
    scope["route"] = _ROUTE
    request = Request(scope, receive)
    response: Response
    try:
        await routes.authenticated(request)
        content = await routes.decision(request, asked)
    except SocialCreditError as e:  # as the app's exception handler answers it
        response = await on_service_error(request, e)
    else:
        # as FastAPI answers a route with a response model: validated, then dumped
        answer = _ANSWER.validate_python(content, from_attributes=True)
        response = Response(_ANSWER.dump_json(answer, by_alias=True, exclude_unset=True),
                            media_type="application/json")
    await response(scope, receive, send)


def _replay(received: list[Message], receive: Receive) -> Receive:
    """`receive` with the messages already taken given again first."""
    pending = list(received)

    async def again() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return again


def handlers() -> dict[tuple[str, str], Callable[[Scope, Receive, Send, ASGIApp],
                                                 Awaitable[None]]]:
    """The lean handlers by (method, path), for Observe."""
    return {("POST", PATH): decide}


__all__ = ["PATH", "decide", "handlers"]
