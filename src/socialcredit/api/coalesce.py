"""uvicorn's HTTP protocol with each response written to the socket in one system call.

uvicorn (httptools) writes a response's status line and headers when the app sends
`http.response.start` and its body when it sends `http.response.body`: two `send`
calls, two TCP segments on a connection with TCP_NODELAY, and the client woken twice.
On loopback a `send` of a small decision was the costliest single line of a cached
decision's profile (py-spy, 2026-12-08). This protocol hands uvicorn a transport whose
`write` gathers what one turn of the event loop writes to a connection and sends it at
the end of that turn (`loop.call_soon`), in one call: a response's head and body go out
together. Bytes, order and framing are unchanged; a close, an EOF or an abort first
sends (or, for an abort, drops) what is gathered.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class GatheredWrites:
    """A transport that passes everything to `transport` but gathers `write`s made in one
    turn of `loop` into one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Send what is gathered now."""
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        gathered = sum(map(len, self._pending)) if self._pending else 0
        return gathered + self._transport.get_write_buffer_size()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class GatheringHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over `GatheredWrites` (`uvicorn.run(app, http=…)`)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(GatheredWrites(transport, self.loop))  # type: ignore[arg-type]


__all__ = ["GatheredWrites", "GatheringHttpToolsProtocol"]
