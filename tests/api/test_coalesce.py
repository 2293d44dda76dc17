"""The server's HTTP protocol (api/coalesce.py) writes exactly the bytes uvicorn's own
does, a response's head and body in one system call."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from socialcredit.api.coalesce import GatheredWrites, GatheringHttpToolsProtocol
from tests.api.conftest import free_port


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Responses of every shape: sized, chunked (no length), several body messages with
    awaits between them, empty, an error before any byte, the request body echoed."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("an app error before the response")
    if path == "/chunked":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(5):
            await send({"type": "http.response.body", "body": b"part %d;" % i,
                        "more_body": True})
            await asyncio.sleep(0.001)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if path == "/empty":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    answer = b"echo:" + body + b":" + path.encode() + b"x" * (70_000 if path == "/big" else 0)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(answer)).encode())]})
    await send({"type": "http.response.body", "body": answer})


@contextlib.contextmanager
def server(http: Any) -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=http, log_level="critical",
                            access_log=False, server_header=False, date_header=False,
                            lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        srv.should_exit = True
        thread.join(10)


def exchange(port: int, raw: bytes) -> bytes:
    """Everything the server sends back for `raw` until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        got = b""
        while True:
            data = s.recv(65536)
            if not data:
                return got
            got += data


def request(method: str, path: str, body: bytes = b"", *, close: bool = False) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nhost: t\r\n"
    if body:
        head += f"content-length: {len(body)}\r\n"
    if close:
        head += "connection: close\r\n"
    return head.encode() + b"\r\n" + body


CONVERSATIONS = {
    "one, closed": request("POST", "/d", b'{"a": 1}', close=True),
    "pipelined, keep-alive then closed": (
        request("POST", "/d", b"1") + request("GET", "/big") + request("GET", "/chunked")
        + request("GET", "/empty") + request("HEAD", "/d") + request("GET", "/z", close=True)),
    "chunked, closed": request("GET", "/chunked", close=True),
    "an app error": request("GET", "/boom") + request("GET", "/after", close=True),
    "a malformed request": b"NOT HTTP\r\n\r\n",
    "a 1 MB request body": request("POST", "/d", b"y" * 1_000_000, close=True),
}


@pytest.mark.parametrize("name", sorted(CONVERSATIONS))
def test_the_gathering_protocol_sends_what_uvicorns_own_sends(name: str) -> None:
    raw = CONVERSATIONS[name]
    with server("httptools") as plain, server(GatheringHttpToolsProtocol) as gathering:
        expected = exchange(plain, raw)
        got = exchange(gathering, raw)
    assert expected  # every conversation is answered
    assert got == expected


class Recorder:
    """A transport that records what is written to it (the real one is the kernel's)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


def test_writes_of_one_turn_go_out_in_one_write_and_a_close_sends_them_first() -> None:
    async def main() -> Recorder:
        real = Recorder()
        t = GatheredWrites(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        t.write(b"ok")
        assert real.writes == [] and t.get_write_buffer_size() == 40
        await asyncio.sleep(0)
        assert real.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
        t.write(b"last")
        t.close()  # what is gathered is sent before the close
        await asyncio.sleep(0)
        return real

    real = asyncio.run(main())
    assert real.writes[1:] == [b"last"] and real.closed
