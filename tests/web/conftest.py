"""A ledger with every kind of principal and some history, its app with the web pages
mounted, and a real server for the browser."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from socialcredit.api import create_app
from socialcredit.service import Service
from tests.api.conftest import ROLES, World, serving
from tests.conftest import Clock
from tests.dueprocess.rulebooks import CITY

USCC = "91350100M000100Y43"
ORG_NAME = "Fuzhou Example Trading Co."
REVIEWER = "board"  # a reviewer acting for a registered reviewing body (it can file voids)


@dataclass
class Site(World):
    def signin(self, client: TestClient, who: str) -> None:
        r = client.get("/signin")
        csrf = r.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        r = client.post("/signin", data={"token": self.tokens[who], "csrf": csrf,
                                         "next": ""}, follow_redirects=False)
        assert r.status_code == 303, r.text

    def client(self) -> TestClient:  # type: ignore[override]
        return TestClient(self.app)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the pages add nothing backend-specific (the service's tests run on
    both), and browser tests are slow enough once."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def site(make_ledger: Callable[..., Service], clock: Clock) -> Iterator[Site]:
    """alice with a court finding (on the public list since 15 January), an
    organization on the public list by its USCC, bob with nothing; every role signed
    up, and `board`, a reviewer acting for a reviewing body (so it can withdraw)."""
    clock.set("2026-01-05T08:00:00Z")
    svc = make_ledger(CITY, {"court-01": "court", "review-board": "reviewer"})
    tokens = {}
    for name, role in {**ROLES, REVIEWER: "reviewer"}.items():
        extra = {"provider": "court-01"} if role == "provider" else (
            {"subject": name} if role == "subject" else {})
        if name == REVIEWER:
            extra = {"provider": "review-board"}
        tokens[name] = svc.principals.add(name, role, **extra)["token"]
    court = svc.acting_as("court")
    clock.set("2026-01-05T08:10:00Z")
    court.submissions.submit(list(enumerate([
        {"record_id": "court-01:org", "provider": "court-01", "subject": USCC,
         "subject_kind": "organization", "type": "court.finding",
         "occurred_at": "2026-01-02", "value": "able_but_refuses",
         "evidence": "urn:court:case:org"}], 1)), key=None, source="test")
    svc.public.name(USCC, ORG_NAME)
    clock.set("2026-01-05T08:30:00Z")
    court.submissions.submit(list(enumerate([
        {"record_id": "court-01:1", "provider": "court-01", "subject": "alice",
         "subject_kind": "person", "type": "court.finding", "occurred_at": "2026-01-04",
         "value": "able_but_refuses", "evidence": "urn:court:case:1"}], 1)),
        key=None, source="test")
    clock.set("2026-01-20T09:00:00Z")  # both listings took effect on 15 January
    app = create_app(service=svc, web=True)
    with TestClient(app) as client:
        yield Site(svc, clock, app, client, tokens)


@pytest.fixture
def site_server(site: Site) -> Iterator[str]:
    """The same app under a real uvicorn server on 127.0.0.1."""
    with serving(site.app) as base:
        yield base
