"""The lean decision handler (api/lean.py) against FastAPI's route, request by request.

Two apps on the same ledger and clock, one with the lean handler and one without it
(`create_app(lean=False)`), get the same requests — valid, invalid, unauthenticated,
forbidden, beyond a consent grant, about unknown subjects and programs, malformed JSON,
other content types, bodies over the limit with and without a length, rate-limited —
and must answer each with the same status, the same headers in the same order and the
same body bytes (the decision id, random, aside), log the same access lines and count
the same metrics.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from socialcredit.api import app as app_module
from socialcredit.api import create_app
from socialcredit.service import Service
from tests.api.conftest import World
from tests.api.test_decisions_http import SUBJECTS, _materialized

PATH = "/api/v1/decisions"
#: bodies over this many bytes are refused (the apps' limit is lowered to it here)
LIMIT = 400
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@dataclass
class Pair:
    lean: TestClient
    plain: TestClient
    lean_app: FastAPI
    plain_app: FastAPI
    lines: list[dict[str, Any]]
    world: World
    grant: str


class Lines(logging.Handler):
    """The access log's lines, parsed, in order."""

    def __init__(self, into: list[dict[str, Any]]) -> None:
        super().__init__()
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(json.loads(record.getMessage()))


@pytest.fixture
def pair(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pair]:
    _materialized(world)
    c = world.client
    r = c.post("/api/v1/me/consents", json={"relying_party": "bikes", "purpose": "bike",
                                            "scope": "tier"}, headers=world.auth("alice"))
    assert r.status_code == 201, r.text
    grant = r.json()["grant_id"]
    monkeypatch.setattr(app_module, "MAX_BODY", LIMIT)
    lines: list[dict[str, Any]] = []
    log = logging.getLogger("socialcredit.api.access")
    handler = Lines(lines)
    monkeypatch.setattr(log, "handlers", [handler])
    monkeypatch.setattr(log, "propagate", False)
    level = log.level
    log.setLevel(logging.INFO)  # (clears the loggers' cached levels, unlike setattr)
    url = world.svc.ledger.engine.url.render_as_string(hide_password=False)
    with Service.open(url, clock=world.clock) as one, \
            Service.open(url, clock=world.clock) as other:
        lean_app = create_app(service=one)
        plain_app = create_app(service=other, lean=False)
        with TestClient(lean_app) as lean, TestClient(plain_app) as plain:
            yield Pair(lean, plain, lean_app, plain_app, lines, world, grant)
    log.setLevel(level)


def _fields(draw: st.DrawFn, grant: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": draw(st.sampled_from(["alice", "bob", "nobody", "P3", *SUBJECTS[:4]])
                        if draw(st.integers(0, 9)) < 9 else st.sampled_from(["", "x" * 201])),
        "action": draw(st.sampled_from(["rail.ticket", "bike.deposit", "no.such_action"]))}
    if draw(st.booleans()):
        body["materialized"] = draw(st.sampled_from([True, False, "yes", None]))
    if draw(st.integers(0, 2)) == 2:
        body["program"] = draw(st.sampled_from(["city", "no-such-program"]))
    if draw(st.integers(0, 2)) == 2:
        body["purpose"] = draw(st.sampled_from(["bike", "rail", "marketing"]))
    if draw(st.integers(0, 3)) == 3:
        body["grant"] = draw(st.sampled_from([grant, "g-no-such-grant"]))
    if draw(st.integers(0, 19)) == 19:
        body["extra"] = 1
    if draw(st.integers(0, 19)) == 19:
        del body[draw(st.sampled_from(["subject", "action"]))]
    return body


@st.composite
def requests(draw: st.DrawFn, grant: str) -> tuple[dict[str, str], bytes, bool]:
    """(headers, body, chunked) of one request for both apps."""
    who = draw(st.sampled_from(["railway", "bikes", "operator", "alice", "court"])
               if draw(st.integers(0, 4)) < 4 else
               st.sampled_from([None, "Basic abc", "Bearer ", "Bearer nope",
                                "Bearer " + "t" * 600]))
    headers = {"X-Request-Id": "r-1"}
    if who is not None:
        headers["Authorization"] = who if " " in who else f"Bearer {{{who}}}"
    kind = "application/json" if draw(st.integers(0, 2)) < 2 else draw(st.sampled_from(
        ["application/json; charset=utf-8", "APPLICATION/JSON", "text/plain",
         "application/x-www-form-urlencoded", None]))
    if kind is not None:
        headers["Content-Type"] = kind
    shape = 15 - draw(st.integers(0, 15))  # (hypothesis leans to 0: a whole body)
    if shape == 0:
        body = b"{not json"
    elif shape == 1:
        body = b""
    elif shape == 2:
        body = b"[1, 2]"
    elif shape == 3:  # over the limit
        body = json.dumps({"subject": "p1", "action": "rail.ticket",
                           "purpose": "x" * LIMIT}).encode()
    else:
        body = json.dumps(_fields(draw, grant)).encode()
    return headers, body, draw(st.integers(0, 4)) == 4


def _tokens(pair: Pair, headers: dict[str, str]) -> dict[str, str]:
    auth = headers.get("Authorization", "")
    m = re.fullmatch(r"Bearer \{(\w+)\}", auth)
    if m:
        headers = {**headers, "Authorization": f"Bearer {pair.world.tokens[m.group(1)]}"}
    return headers


def _send(client: TestClient, headers: dict[str, str], body: bytes, chunked: bool
          ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    content: Any = iter([body[: len(body) // 2], body[len(body) // 2:]]) if chunked else body
    r = client.post(PATH, content=content, headers=headers)
    raw = r.read()
    ids = _UUID.findall(raw)
    for uuid in set(ids):  # the decision id is random; everything else must be equal
        raw = raw.replace(uuid, b"<decision-id>")
    return r.status_code, list(r.headers.raw), raw


def _same(pair: Pair, headers: dict[str, str], body: bytes, chunked: bool) -> int:
    headers = _tokens(pair, headers)
    before = len(pair.lines)
    lean = _send(pair.lean, headers, body, chunked)
    plain = _send(pair.plain, headers, body, chunked)
    assert lean == plain, (headers, body, chunked)
    # the access lines alike too (the time taken aside)
    one, two = pair.lines[before:]
    one.pop("ms")
    two.pop("ms")
    assert one == two
    return lean[0]


def _counted(app: FastAPI) -> list[str]:
    text = TestClient(app).get("/metrics").text
    return sorted(line for line in text.splitlines()
                  if line.startswith(("socialcredit_http_requests_total{",
                                      "socialcredit_decisions_total{"))
                  and "/metrics" not in line)


def test_the_lean_handler_answers_every_request_as_the_route(pair: Pair) -> None:
    statuses: list[int] = []
    json_ = {"Content-Type": "application/json", "X-Request-Id": "r-1"}
    ask = {"subject": "p1", "action": "rail.ticket", "materialized": True}
    over = json.dumps({**ask, "purpose": "x" * LIMIT}).encode()

    def whole(**fields: Any) -> bytes:
        return json.dumps({**ask, **fields}).encode()

    @given(requests(pair.grant))
    # every kind of answer at least once, whatever the draws
    @example(({**json_, "Authorization": "Bearer {railway}"}, whole(), False))
    @example(({**json_, "Authorization": "Bearer {railway}"}, whole(), True))
    @example(({**json_, "Authorization": "Bearer {railway}"}, over, False))
    @example(({**json_, "Authorization": "Bearer {railway}"}, over, True))
    @example(({**json_, "Authorization": "Bearer {railway}"}, whole(program="nope"), False))
    @example(({**json_, "Authorization": "Bearer {railway}"}, b"{not json", False))
    @example(({**json_, "Content-Type": "text/plain", "Authorization": "Bearer {railway}"},
              whole(), False))
    @example(({**json_}, whole(), False))
    @example(({**json_, "Authorization": "Bearer nope"}, whole(), False))
    @example(({**json_, "Authorization": "Bearer {alice}"}, whole(), False))
    @example(({**json_, "Authorization": "Bearer {bikes}"},
              whole(subject="alice", purpose="bike", grant=pair.grant), False))
    @example(({**json_, "Authorization": "Bearer {railway}"},
              whole(subject="alice", purpose="bike", grant=pair.grant), False))
    @settings(max_examples=150, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    def check(request: tuple[dict[str, str], bytes, bool]) -> None:
        statuses.append(_same(pair, *request))

    check()
    # the comparison covered answers and the problems alike
    assert {200, 401, 403, 404, 413, 422} <= set(statuses), statuses
    assert _counted(pair.lean_app) == _counted(pair.plain_app)


def test_a_rate_limited_decision_is_refused_alike(world: World) -> None:
    _materialized(world)
    url = world.svc.ledger.engine.url.render_as_string(hide_password=False)
    ask = json.dumps({"subject": "p1", "action": "rail.ticket", "materialized": True})
    headers = {**world.auth("railway"), "Content-Type": "application/json",
               "X-Request-Id": "r-2"}
    answers = []
    with Service.open(url, clock=world.clock) as one, \
            Service.open(url, clock=world.clock) as other:
        for svc, lean in ((one, True), (other, False)):
            app = create_app(service=svc, rate=0.001, burst=2, lean=lean)
            with TestClient(app) as c:
                got = [_send(c, headers, ask.encode(), False) for _ in range(3)]
            answers.append(got)
    assert [s for s, _, _ in answers[0]] == [200, 200, 429]
    assert answers[0] == answers[1]
    assert (b"retry-after", b"1") in answers[0][2][1]



def test_the_lean_handler_answers_a_plain_decision_itself(
        pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison above would pass were every request handed to the route: here a
    plain JSON decision must not reach the route's body (`routes.decision`), while the
    app without the lean handler does reach it."""
    from socialcredit.api import routes

    reached: list[str] = []
    plain_decision = routes.decision

    async def counted(request: Any, body: Any) -> dict[str, Any]:
        reached.append(body.subject)
        return await plain_decision(request, body)

    monkeypatch.setattr(routes, "decision", counted)
    headers = {**pair.world.auth("railway"), "Content-Type": "application/json"}
    ask = {"subject": "p1", "action": "rail.ticket", "materialized": True}
    assert pair.lean.post(PATH, json=ask, headers=headers).status_code == 200
    assert reached == []
    assert pair.plain.post(PATH, json=ask, headers=headers).status_code == 200
    assert reached == ["p1"]
