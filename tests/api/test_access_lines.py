"""The access log's lines: written by a handler of its own (one system call a line)
and formatted without `json.dumps`, yet the very lines `json.dumps` wrote before."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socialcredit.api.app import AccessLines, access_line, access_log
from tests.api.conftest import World


@given(request_id=st.text(), method=st.text(), route=st.text(),
       status=st.integers(min_value=100, max_value=599),
       ms=st.floats(min_value=0, max_value=1e9, allow_nan=False).map(lambda x: round(x, 3)),
       principal=st.none() | st.text())
def test_a_line_is_what_json_dumps_writes(request_id: str, method: str, route: str,
                                          status: int, ms: float,
                                          principal: str | None) -> None:
    assert access_line(request_id, method, route, status, ms, principal) == json.dumps({
        "request_id": request_id, "method": method, "route": route, "status": status,
        "ms": ms, "principal": principal})


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[Path]:
    """The access log configured as `serve` configures it, into a file."""
    path = tmp_path / "access.log"
    with path.open("w") as stream:
        handler = AccessLines(stream)
        saved = (access_log.handlers[:], access_log.level, access_log.propagate)
        access_log.handlers[:] = [handler]
        access_log.setLevel(logging.INFO)
        access_log.propagate = False
        try:
            yield path
        finally:
            access_log.handlers[:], level, access_log.propagate = saved
            access_log.setLevel(level)


def test_each_request_writes_one_line_of_its_fields(world: World, logged: Path) -> None:
    c = world.client
    d = c.post("/api/v1/decisions", headers={**world.auth("railway"), "X-Request-Id": 'q"1'},
               json={"subject": "alice", "action": "rail.ticket", "materialized": True})
    assert d.status_code == 200, d.text
    assert c.get("/api/v1/me/file").status_code == 401
    lines = [json.loads(x) for x in logged.read_text().splitlines()]
    assert [(x["request_id"], x["method"], x["route"], x["status"], x["principal"])
            for x in lines] == [
        ('q"1', "POST", "/api/v1/decisions", 200, "railway"),
        (lines[1]["request_id"], "GET", "/api/v1/me/file", 401, None)]
    assert all(isinstance(x["ms"], float) for x in lines)
    assert len(lines[1]["request_id"]) == 32


def test_with_another_handler_too_lines_go_as_records(world: World, logged: Path) -> None:
    """A handler an operator adds (or a filter) still sees every request: Observe
    writes directly only while the access log's handler is its own alone."""
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    access_log.addHandler(Keep())
    assert world.client.get("/api/v1/me/file").status_code == 401
    written = logged.read_text().splitlines()
    assert len(seen) == 1 and len(written) == 1
    assert json.loads(seen[0].getMessage()) == json.loads(written[0])


def test_lines_go_to_the_descriptor_in_one_write_each(tmp_path: Path) -> None:
    read, write = os.pipe()
    with os.fdopen(write, "w") as stream:
        handler = AccessLines(stream)
        assert handler.fd == write
        handler.write('{"a": "é"}')
        handler.emit(logging.LogRecord("x", logging.INFO, __file__, 1, "second", None,
                                       None))
    with os.fdopen(read) as got:
        assert got.read() == '{"a": "é"}\nsecond\n'
