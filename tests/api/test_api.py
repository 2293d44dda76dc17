"""The HTTP API driven as clients would: each party within its role, RFC 9457 problems,
no leak of another subject's data, idempotent submissions, metrics and health."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from socialcredit.service.authz import OPERATIONS
from tests.api.conftest import ROLES, World

PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs",
                "/docs/oauth2-redirect"}
CSV_ROW = {"record_id": "court-01:1", "provider": "court-01", "subject": "alice",
           "subject_kind": "person", "type": "court.finding", "occurred_at": "2026-01-04",
           "value": "able_but_refuses", "evidence": "urn:court:case:1"}


def is_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["status"] == status and body["code"] == code and body["detail"]
    assert body["type"].endswith(code)


def test_health_readiness_and_the_openapi_document(world: World) -> None:
    c = world.client
    assert c.get("/healthz").json() == {"status": "ok"}
    ready = c.get("/readyz")
    assert ready.status_code == 200 and ready.json()["migrations_current"] is True
    doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/api/v1/decisions" in doc["paths"] and "/api/v1/records" in doc["paths"]


def test_every_route_but_the_public_ones_needs_a_token(world: World) -> None:
    """Driven by the OpenAPI document (the contract), so a new route cannot escape."""
    checked = 0
    for path, methods in world.app.openapi()["paths"].items():
        if path in PUBLIC_PATHS or path.startswith(("/api/v1/public", "/api/v1/log")):
            continue
        concrete = path.replace("{", "").replace("}", "")
        for method in methods:
            r = world.client.request(method.upper(), concrete, content=b"{}",
                                     headers={"content-type": "application/json"})
            is_problem(r, 401, "unauthenticated")
            assert r.headers["www-authenticate"].startswith("Bearer")
            r = world.client.request(method.upper(), concrete,
                                     headers={"Authorization": "Bearer nope"})
            is_problem(r, 401, "unauthenticated")
            checked += 1
    assert checked >= 25


def test_public_lists_rulebooks_catalogues_and_log_need_no_token(world: World) -> None:
    court = world.auth("court")
    assert world.client.post("/api/v1/records", json=[CSV_ROW], headers=court).status_code \
        == 200
    c = world.client
    lists = c.get("/api/v1/public/lists").json()
    assert [x["list"] for x in lists] == ["city_defaulters"]
    programs = c.get("/api/v1/public/programs").json()
    assert programs[0]["program"] == "city" and len(programs[0]["sha256"]) == 64
    assert c.get("/api/v1/public/catalogues").json()[0]["catalogue"] == "test-catalogue"
    note = c.get("/api/v1/log/checkpoint").text
    size = int(note.splitlines()[1])
    leaves = c.get("/api/v1/log/leaves", params={"start": 0, "end": size}).json()["leaves"]
    assert len(leaves) == size
    proof = c.get(f"/api/v1/log/proof/{size - 1}", params={"size": size}).json()
    assert proof["index"] == size - 1 if "index" in proof else proof
    assert c.get("/api/v1/log/consistency", params={"first": 1, "second": size}
                 ).status_code == 200
    is_problem(c.get("/api/v1/log/proof/999999"), 400, "log.invalid")


def test_the_role_table_holds_over_http(world: World) -> None:
    """For each route below, exactly the roles the service's table names get past the
    role check (any answer but 401/403); every other role gets 403."""
    c = world.client
    cases = [("GET", "/api/v1/providers", None, "providers.list"),
             ("GET", "/api/v1/principals", None, "principals.manage"),
             ("GET", "/api/v1/review/queue", None, "cases.queue"),
             ("GET", "/api/v1/jobs", None, "jobs.read"),
             ("POST", "/api/v1/outbox/run", None, "outbox.run"),
             ("POST", "/api/v1/providers", {"provider": "bank-9", "role": "court"},
              "providers.add")]
    for method, path, body, op in cases:
        allowed = set(OPERATIONS[op].roles)
        for who, role in ROLES.items():
            r = c.request(method, path, json=body, headers=world.auth(who))
            if role in allowed:
                assert r.status_code not in (401, 403), (path, who, r.text)
            else:
                is_problem(r, 403, "forbidden")


def test_no_subject_reads_another_and_a_relying_party_sees_only_its_grant(
        world: World) -> None:
    c = world.client
    assert c.post("/api/v1/records", json=[CSV_ROW], headers=world.auth("court")
                  ).status_code == 200
    is_problem(c.get("/api/v1/subjects/alice/standing", headers=world.auth("bob")),
               403, "forbidden")
    mine = c.get("/api/v1/me/standing", headers=world.auth("alice")).json()
    assert mine["subject"] == "alice" and "score" in mine
    # without a grant, a relying party sees public-list membership only
    seen = c.get("/api/v1/subjects/alice/standing", headers=world.auth("railway")).json()
    assert "score" not in seen and "tier" not in seen
    is_problem(c.post("/api/v1/decisions", json={"subject": "alice",
                                                 "action": "bike.deposit"},
                      headers=world.auth("bikes")), 403, "consent.required")
    g = c.post("/api/v1/me/consents", json={"relying_party": "bikes", "purpose": "bike",
                                            "scope": "tier"}, headers=world.auth("alice"))
    assert g.status_code == 201, g.text
    d = c.post("/api/v1/decisions", json={"subject": "alice", "action": "bike.deposit",
                                          "purpose": "bike"}, headers=world.auth("bikes"))
    assert d.status_code == 200, d.text
    assert "tier" in d.json() and "score" not in d.json() and d.json()["decision_id"]
    # alice sees who asked; bob's log does not show alice's
    asked = c.get("/api/v1/me/access-log", headers=world.auth("alice")).json()
    assert {a["principal"] for a in asked} >= {"railway", "bikes"}
    assert c.get("/api/v1/me/access-log", headers=world.auth("bob")).json() == []
    # and a revoked grant stops the next decision
    gid = g.json()["grant_id"]
    assert c.delete(f"/api/v1/me/consents/{gid}", headers=world.auth("alice")
                    ).status_code == 200
    is_problem(c.post("/api/v1/decisions", json={"subject": "alice",
                                                 "action": "bike.deposit",
                                                 "purpose": "bike"},
                      headers=world.auth("bikes")), 403, "consent.required")


def test_a_batch_is_stored_once_and_bad_rows_are_located(world: World) -> None:
    c, court = world.client, world.auth("court")
    bad = [CSV_ROW, {**CSV_ROW, "record_id": "court-01:2", "occurred_at": "yesterday"}]
    r = c.post("/api/v1/records", json=bad, headers=court)
    is_problem(r, 422, "ingest.rows_invalid")
    assert any(e.get("line") == 2 or "2" in json.dumps(e) for e in r.json()["errors"])
    assert "occurred_at" in r.text
    assert world.svc.ledger.count_records() == 0  # all or nothing
    key = {"Idempotency-Key": "batch-1", **court}
    first = c.post("/api/v1/records", json=[CSV_ROW], headers=key).json()
    again = c.post("/api/v1/records", json=[CSV_ROW], headers=key).json()
    assert first["accepted"] == 1 and first["replayed"] is False
    assert again["replayed"] is True and again["submission"] == first["submission"]
    assert world.svc.ledger.count_records() == 1
    other = {**CSV_ROW, "record_id": "court-01:3"}
    is_problem(c.post("/api/v1/records", json=[other], headers=key), 409,
               "idempotency.conflict")
    nd = "\n".join(json.dumps({**CSV_ROW, "record_id": f"court-01:n{i}"}) for i in range(3))
    r = c.post("/api/v1/records", content=nd.encode(),
               headers={"content-type": "application/x-ndjson", **court})
    assert r.json()["accepted"] == 3
    hist = c.get("/api/v1/submissions", headers=court).json()["items"]
    assert len(hist) == 2
    # a provider cannot file in another provider's namespace, nor as another provider
    r = c.post("/api/v1/records", json=[{**CSV_ROW, "record_id": "bank-1:x",
                                         "provider": "bank-1"}], headers=court)
    assert r.status_code in (403, 422)


def test_malformed_requests_get_problems_naming_what_was_wrong(world: World) -> None:
    c, court = world.client, world.auth("court")
    r = c.post("/api/v1/records", content=b"[{", headers={"content-type":
                                                          "application/json", **court})
    is_problem(r, 422, "ingest.unreadable")
    r = c.post("/api/v1/records", content=b'[{"value": NaN}]',
               headers={"content-type": "application/json", **court})
    is_problem(r, 422, "ingest.unreadable")
    r = c.post("/api/v1/decisions", json={"subject": "alice"},
               headers=world.auth("railway"))
    is_problem(r, 422, "usage")
    assert "action" in r.json()["detail"]
    r = c.post("/api/v1/decisions", json={"subject": "alice", "action": "x", "extra": 1},
               headers=world.auth("railway"))
    is_problem(r, 422, "usage")
    r = c.post("/api/v1/records", content=b"[]",
               headers={"content-length": str(64 * 1024 * 1024), **court})
    is_problem(r, 413, "request.too_large")
    r = c.post("/api/v1/me/objections", json={"record_id": "court-01:1", "grounds": "x",
                                              "attachments": [{"name": "a",
                                                               "content_base64": "%%"}]},
               headers=world.auth("alice"))
    is_problem(r, 400, "usage")


def test_a_body_without_a_length_is_refused_past_the_limit(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunked body (no Content-Length) is counted as it arrives: past the limit it
    gets the same 413 problem as a declared length over it, on the lean decision route
    and on FastAPI's routes alike, and under the limit it is read as usual."""
    from socialcredit.api import app as api_app

    monkeypatch.setattr(api_app, "MAX_BODY", 4096)
    c = world.client

    def chunks(n: int) -> Iterator[bytes]:
        yield b'{"subject": "alice", "action": "rail.ticket", "purpose": "'
        for _ in range(n):
            yield b"x" * 1024
        yield b'"}'

    for path, who in (("/api/v1/decisions", "railway"), ("/api/v1/records", "court")):
        r = c.post(path, content=chunks(8), headers={"content-type": "application/json",
                                                      **world.auth(who)})
        assert "content-length" not in {k.lower() for k in r.request.headers}
        is_problem(r, 413, "request.too_large")
    r = c.post("/api/v1/decisions", content=chunks(1),
               headers={"content-type": "application/json", **world.auth("railway")})
    assert r.status_code != 413


def test_rate_limits_are_per_principal(world: World) -> None:
    limits = world.app.state.sc.limits
    limits.rate, limits.burst = 0.001, 3.0
    c = world.client
    codes = [c.get("/api/v1/me/notices", headers=world.auth("alice")).status_code
             for _ in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    assert c.get("/api/v1/me/notices", headers=world.auth("bob")).status_code == 200


def test_a_revoked_token_stops_working(world: World) -> None:
    c = world.client
    assert c.get("/api/v1/me/notices", headers=world.auth("bob")).status_code == 200
    assert c.delete("/api/v1/principals/bob", headers=world.auth("operator")
                    ).status_code == 200
    is_problem(c.get("/api/v1/me/notices", headers=world.auth("bob")), 401,
               "unauthenticated")


def test_metrics_count_requests_decisions_and_rows(world: World) -> None:
    c = world.client
    c.post("/api/v1/records", json=[CSV_ROW], headers=world.auth("court"))
    c.post("/api/v1/decisions", json={"subject": "alice", "action": "rail.ticket"},
           headers=world.auth("railway"))
    text = c.get("/metrics").text
    assert 'socialcredit_ingest_rows_total{outcome="accepted"} 1.0' in text
    assert 'socialcredit_decisions_total{effect="allow"} 1.0' in text
    assert 'route="/api/v1/decisions"' in text and "socialcredit_outbox_backlog" in text


def test_the_due_process_scenario_over_http(world: World, server: str) -> None:
    """Court files → notice → the subject objects → the reviewer's queue → voided →
    the subject sees the outcome and the recomputed standing; over a real socket."""
    with httpx.Client(base_url=server, timeout=30) as h:
        r = h.post("/api/v1/records", json=[CSV_ROW], headers=world.auth("court"))
        assert r.status_code == 200 and r.json()["accepted"] == 1
        notices = h.get("/api/v1/me/notices", headers=world.auth("alice")).json()
        assert any(n["kind"] == "record.added" or "record" in n["kind"] for n in notices)
        before = h.get("/api/v1/me/standing", headers=world.auth("alice")).json()
        assert before["score"] < 1000
        world.clock.set("2026-01-07T08:00:00Z")
        att = base64.b64encode(b"bank transfer receipt").decode()
        case = h.post("/api/v1/me/objections", json={
            "record_id": "court-01:1", "grounds": "I paid the judgment in December",
            "attachments": [{"name": "receipt.txt", "content_base64": att}]},
            headers=world.auth("alice"))
        assert case.status_code == 201, case.text
        cid = case.json()["case_id"]
        queue = h.get("/api/v1/review/queue", headers=world.auth("rev")).json()
        assert [q["case_id"] for q in queue] == [cid]
        # the subject cannot decide its own case; the reviewer can, with reasons
        r = h.post(f"/api/v1/cases/{cid}/decision", json={"outcome": "voided",
                                                           "reasons": "paid"},
                   headers=world.auth("alice"))
        assert r.status_code == 403
        world.clock.set("2026-01-20T09:00:00Z")
        r = h.post(f"/api/v1/cases/{cid}/decision",
                   json={"outcome": "voided", "reasons": "The judgment was performed"},
                   headers=world.auth("rev"))
        assert r.status_code == 200 and r.json()["status"] == "voided", r.text
        after = h.get("/api/v1/me/standing", headers=world.auth("alice")).json()
        assert after["score"] == 1000 and after["tier"] == "A"
        kinds = [n["kind"] for n in h.get("/api/v1/me/notices",
                                          headers=world.auth("alice")).json()]
        assert "case.outcome" in kinds
        mine = h.get("/api/v1/me/cases", headers=world.auth("alice")).json()
        assert mine[0]["status"] == "voided"
        assert h.get(f"/api/v1/cases/{cid}", headers=world.auth("bob")).status_code == 403
        file_ = h.get("/api/v1/me/file", headers=world.auth("alice")).json()
        assert json.dumps(file_).count("court-01:1") >= 1


def test_score_all_runs_as_a_job_with_progress(world: World) -> None:
    c, op = world.client, world.auth("operator")
    c.post("/api/v1/records", json=[CSV_ROW], headers=world.auth("court"))
    r = c.post("/api/v1/jobs/score", json={}, headers=op)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    for _ in range(200):
        job = c.get(f"/api/v1/jobs/{job_id}", headers=op).json()
        if job["status"] not in ("queued", "running"):
            break
        import time

        time.sleep(0.05)
    assert job["status"] == "done", job
    assert world.svc.standings.materialized("alice") is not None
    is_problem(c.get(f"/api/v1/jobs/{job_id}", headers=world.auth("alice")), 403,
               "forbidden")
