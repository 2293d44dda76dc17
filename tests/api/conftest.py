"""A ledger with every kind of principal, its API app, and a real server for it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from socialcredit.api import create_app
from socialcredit.service import Service
from tests.conftest import Clock
from tests.dueprocess.rulebooks import CITY

ROLES = {"operator": "operator", "court": "provider", "railway": "relying_party",
         "bikes": "relying_party", "rev": "reviewer", "arev": "appeal_reviewer",
         "aud": "auditor", "alice": "subject", "bob": "subject"}


@dataclass
class World:
    svc: Service
    clock: Clock
    app: FastAPI
    client: TestClient
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
def world(make_ledger: Callable[..., Service], clock: Clock, tmp_path: Path
          ) -> Iterator[World]:
    clock.set("2026-01-05T08:00:00Z")
    svc = make_ledger(CITY, {"court-01": "court"})
    tokens = {}
    for name, role in ROLES.items():
        extra = {"provider": "court-01"} if role == "provider" else (
            {"subject": name} if role == "subject" else {})
        tokens[name] = svc.principals.add(name, role, **extra)["token"]
    clock.set("2026-01-05T09:00:00Z")
    app = create_app(service=svc, exports=tmp_path / "exports")
    with TestClient(app) as client:
        yield World(svc, clock, app, client, tokens)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` under a real uvicorn server on 127.0.0.1 (HTTP over a socket), in a thread;
    yields its base URL."""
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                        log_level="warning", access_log=False))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def server(world: World) -> Iterator[str]:
    """The same app under a real uvicorn server on 127.0.0.1 (HTTP over a socket)."""
    with serving(world.app) as base:
        yield base
