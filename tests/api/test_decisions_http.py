"""Decisions over HTTP on the materialized path: answered only once logged, grouped
under load, consent followed from memory, one read transaction at most."""

from __future__ import annotations

import concurrent.futures
import json
import threading
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, event, select

from socialcredit.decisions.log import get
from socialcredit.ledger import schema as s
from socialcredit.service import Service
from tests.api.conftest import World
from tests.api.test_api import CSV_ROW, is_problem

SUBJECTS = [f"p{i}" for i in range(12)]


def _materialized(world: World) -> None:
    rows = [{**CSV_ROW, "record_id": f"court-01:{who}", "subject": who}
            for who in ["alice", *SUBJECTS]]
    r = world.client.post("/api/v1/records", json=rows, headers=world.auth("court"))
    assert r.status_code == 200, r.text
    world.svc.population.score_all()


@pytest.fixture
def fresh(world: World) -> Iterator[Service]:
    """A second service on the same database: its own engine, its own connections."""
    url = world.svc.ledger.engine.url.render_as_string(hide_password=False)
    with Service.open(url) as other:
        yield other


def test_a_decision_is_answered_only_once_its_log_row_is_committed(
        world: World, server: str, fresh: Service) -> None:
    """Many requests in flight at once: each answer's decision id is readable from
    another connection as soon as the answer arrives, and the committer grouped them."""
    _materialized(world)
    committer = world.app.state.sc.svc.ctx.committer
    assert committer is not None
    batches, units = committer.batches, committer.units
    engine = create_engine(fresh.ledger.engine.url)

    def decide(i: int) -> tuple[str, bool]:
        body = {"subject": SUBJECTS[i % len(SUBJECTS)], "action": "rail.ticket",
                "materialized": True}
        r = httpx.post(f"{server}/api/v1/decisions", json=body,
                       headers=world.auth("railway"), timeout=30)
        assert r.status_code == 200, r.text
        decision_id = r.json()["decision_id"]
        with engine.connect() as conn:  # a connection of another engine, opened now
            logged = get(conn, decision_id) is not None
        return decision_id, logged

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        got = list(pool.map(decide, range(96)))
    engine.dispose()
    assert all(logged for _, logged in got)
    assert len({d for d, _ in got}) == 96
    assert committer.units - units >= 96
    assert committer.batches - batches < committer.units - units  # some were grouped
    with fresh.ctx.read() as conn:
        access = conn.execute(select(s.decisions.c.decision_id)).scalars().all()
    assert {d for d, _ in got} <= set(access)


def test_consent_from_memory_follows_grants_and_revocations(world: World) -> None:
    """The cache keeps consent grants: a grant given or revoked is seen by the very
    next materialized decision."""
    _materialized(world)
    c = world.client
    ask = {"subject": "alice", "action": "bike.deposit", "purpose": "bike",
           "materialized": True}
    is_problem(c.post("/api/v1/decisions", json=ask, headers=world.auth("bikes")), 403,
               "consent.required")
    g = c.post("/api/v1/me/consents", json={"relying_party": "bikes", "purpose": "bike",
                                            "scope": "tier"}, headers=world.auth("alice"))
    assert g.status_code == 201, g.text
    for _ in range(2):  # the second from memory
        d = c.post("/api/v1/decisions", json=ask, headers=world.auth("bikes"))
        assert d.status_code == 200, d.text
        assert d.json()["standing_source"] == "materialized"
        assert d.json()["disclosure"] == "tier" and "score" not in d.json()
        assert d.json()["grant_id"] == g.json()["grant_id"]
    assert c.delete(f"/api/v1/me/consents/{g.json()['grant_id']}",
                    headers=world.auth("alice")).status_code == 200
    is_problem(c.post("/api/v1/decisions", json=ask, headers=world.auth("bikes")), 403,
               "consent.required")
    # a grant named that is another subject's is refused as before
    is_problem(c.post("/api/v1/decisions", json={**ask, "subject": "p1",
                                                 "grant": g.json()["grant_id"]},
                      headers=world.auth("bikes")), 403, "consent.required")


def test_a_decision_reads_in_one_transaction_at_most(world: World) -> None:
    """Connections a decision takes from the pool: its commit, and for its reads one
    at most — none on SQLite when the cache holds the subject (PostgreSQL reads the
    cache's fingerprint in that one)."""
    _materialized(world)
    svc = world.svc.acting_as("railway")
    engine = svc.ctx.ledger.engine
    taken: list[int] = []

    def checkout(*_: object) -> None:
        taken.append(1)

    svc.decisions.decide("p4", "rail.ticket", materialized=True)  # the cache's own connection
    event.listen(engine, "checkout", checkout)
    try:
        counts = []
        for _ in range(3):
            taken.clear()
            d = svc.decisions.decide("p3", "rail.ticket", materialized=True)
            assert d.source == "materialized"
            counts.append(len(taken))
    finally:
        event.remove(engine, "checkout", checkout)
    assert counts[0] == 2  # the row read (one transaction) and the commit
    warm = 1 if engine.dialect.name == "sqlite" else 2
    assert counts[1:] == [warm, warm]


def test_the_next_decision_sees_a_batch_just_submitted(world: World) -> None:
    """A batch answered 200 is in the very next materialized decision: the cache held
    the subject's row from before, and the submission's commit drops it."""
    _materialized(world)
    c = world.client
    ask = {"subject": "p5", "action": "rail.ticket", "materialized": True}
    before = c.post("/api/v1/decisions", json=ask, headers=world.auth("operator")).json()
    assert before["standing_source"] == "materialized"
    assert c.post("/api/v1/decisions", json=ask, headers=world.auth("railway")
                  ).status_code == 200  # the row is in the cache now
    world.clock.set("2026-01-05T10:00:00Z")
    more = [{**CSV_ROW, "record_id": f"court-01:p5-{i}", "subject": "p5"} for i in range(3)]
    r = c.post("/api/v1/records", json=more, headers=world.auth("court"))
    assert r.status_code == 200 and r.json()["accepted"] == 3, r.text
    after = c.post("/api/v1/decisions", json=ask, headers=world.auth("operator")).json()
    live = world.svc.decisions.decide("p5", "rail.ticket", record=False)
    assert after["standing_source"] == "materialized"
    assert after["score"] == pytest.approx(live.standing.score)
    assert after["score"] == pytest.approx(before["score"] - 300)  # three more findings


def test_the_loop_answers_while_a_decision_reads_a_row_not_cached(
        world: World, server: str) -> None:
    """A decision whose row is not in the process's cache reads it on a worker thread:
    while that read is held up in the database, the server's event loop still answers
    (a health check here). The read is held by a hook on the app's own engine until the
    health check has been answered, so the order is certain, not a matter of timing."""
    _materialized(world)
    engine = world.svc.ledger.engine
    entered, release, resumed = threading.Event(), threading.Event(), threading.Event()

    def hold(conn: object, cursor: object, statement: str, *_: object) -> None:
        if f"FROM {s.standings.name}" in statement and not release.is_set():
            entered.set()
            release.wait(10)  # a bound, should the read be on the loop after all
            resumed.set()

    event.listen(engine, "before_cursor_execute", hold)
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            asked = pool.submit(httpx.post, f"{server}/api/v1/decisions",
                                json={"subject": "p7", "action": "rail.ticket",
                                      "materialized": True},
                                headers=world.auth("railway"), timeout=60)
            assert entered.wait(30), "the row was not read from the database"
            health = httpx.get(f"{server}/healthz", timeout=60)
            in_progress = not resumed.is_set()  # the read is still held
            release.set()
            answer = asked.result(60)
    finally:
        release.set()
        event.remove(engine, "before_cursor_execute", hold)
    assert health.status_code == 200 and in_progress
    assert answer.status_code == 200, answer.text
    assert answer.json()["standing_source"] == "materialized"


def test_the_lean_decision_route_answers_as_the_route_does(world: World) -> None:
    """Decisions are answered by a lean handler (api/lean.py) in front of FastAPI's
    router: a body it does not take whole goes to the route, which answers with its
    own located problems; problems of the service are the same documents; metrics and
    request ids are kept alike."""
    _materialized(world)
    c = world.client
    ask = {"subject": "p8", "action": "rail.ticket", "materialized": True}
    ok = c.post("/api/v1/decisions", json=ask, headers={**world.auth("railway"),
                                                          "X-Request-Id": "abc"})
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "abc"
    assert ok.headers["content-type"] == "application/json"
    body = ok.json()
    assert body["subject"] == "p8" and "score" not in body  # a relying party's view
    # the same body with parameters on its content type; without one the route
    # refuses it (FastAPI's strict content type), and so it still is
    r = c.post("/api/v1/decisions", content=json.dumps(ask),
               headers={**world.auth("railway"), "Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200, r.text
    r = c.post("/api/v1/decisions", content=json.dumps(ask), headers=world.auth("railway"))
    is_problem(r, 422, "usage")
    # the route's own validation problems, located
    bad = c.post("/api/v1/decisions", json={**ask, "extra": 1}, headers=world.auth("railway"))
    is_problem(bad, 422, "usage")
    assert bad.json()["errors"][0]["where"] == "body.extra"
    bad = c.post("/api/v1/decisions", content=b"{not json",
                 headers={**world.auth("railway"), "Content-Type": "application/json"})
    is_problem(bad, 422, "usage")
    assert bad.json()["errors"][0]["where"].startswith("body.")
    missing = c.post("/api/v1/decisions", json={"action": "rail.ticket"},
                     headers=world.auth("railway"))
    is_problem(missing, 422, "usage")
    assert missing.json()["errors"][0]["where"] == "body.subject"
    # the token before the body's fields; service problems as RFC 9457 documents
    is_problem(c.post("/api/v1/decisions", json={"action": 1}), 401, "unauthenticated")
    is_problem(c.post("/api/v1/decisions", json=ask), 401, "unauthenticated")
    is_problem(c.post("/api/v1/decisions", json=ask, headers=world.auth("alice")), 403,
               "forbidden")
    text = c.get("/metrics").text
    assert 'route="/api/v1/decisions",status="200"' in text
    assert 'route="/api/v1/decisions",status="422"' in text
    assert 'route="/api/v1/decisions",status="401"' in text


def test_decisions_missing_the_cache_read_together_answer_as_one_by_one(
        world: World) -> None:
    """Many decisions in flight that miss the cache are read in one transaction
    (api/misses.py): each answer — decisions, refusals, consent, due process, unknown
    subjects and programs — is the JSON, or the RFC 9457 problem, that an app reading
    every decision on its own gives (a second app on its own service and cache)."""
    import asyncio
    import random

    from socialcredit.api import create_app

    _materialized(world)
    c = world.client
    assert c.post("/api/v1/me/consents", json={"relying_party": "bikes", "purpose": "bike",
                                               "scope": "tier"},
                  headers=world.auth("alice")).status_code == 201
    assert c.post("/api/v1/me/objections", json={"record_id": "court-01:alice",
                                                 "grounds": "not mine"},
                  headers=world.auth("alice")).status_code in (200, 201)
    rng = random.Random(7)
    subjects = ["alice", "bob", "nobody", "P3", *SUBJECTS]
    asks = []
    for _ in range(200):
        body: dict[str, object] = {"subject": rng.choice(subjects),
                                   "action": rng.choice(["rail.ticket", "bike.deposit"]),
                                   "materialized": True}
        if rng.random() < 0.3:
            body["purpose"] = "bike"
        if rng.random() < 0.05:
            body["program"] = rng.choice(["city", "no-such-program"])
        asks.append((rng.choice(["railway", "bikes", "operator", "alice"]), body))

    async def answers(app: object, together: bool) -> list[tuple[int, object]]:
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as h:
            def post(who: str, body: dict[str, object]) -> object:
                return h.post("/api/v1/decisions", json=body, headers=world.auth(who))
            if together:
                got = await asyncio.gather(*(post(w, b) for w, b in asks))
            else:
                got = [await post(w, b) for w, b in asks]
        out = []
        for r in got:
            doc = r.json()
            if isinstance(doc, dict):
                doc.pop("decision_id", None)
            out.append((r.status_code, doc))
        return out

    misses = world.app.state.sc.misses
    together = asyncio.run(answers(world.app, True))
    assert misses.reads < misses.served  # some were read together
    url = world.svc.ledger.engine.url.render_as_string(hide_password=False)
    with Service.open(url, clock=world.clock) as own:
        plain = create_app(service=own)
        plain.state.sc.misses = None  # every decision reads its own
        alone = asyncio.run(answers(plain, False))
    assert together == alone
    statuses = {s for s, _ in together}
    assert {200, 403, 404} <= statuses, statuses  # answers and problems both compared
