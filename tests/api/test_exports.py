"""Exports over HTTP: started as jobs with progress, followed, downloaded (streamed, with
its digest); the files are the same exports the command line writes, and only an
operator may start, follow or download them."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from socialcredit.service.authz import OPERATIONS
from tests.api.conftest import ROLES, World
from tests.api.test_api import CSV_ROW, is_problem


def finished(world: World, export_id: str) -> dict[str, Any]:
    op = world.auth("operator")
    for _ in range(400):
        view: dict[str, Any] = world.client.get(f"/api/v1/exports/{export_id}",
                                                headers=op).json()
        if view["status"] not in ("queued", "running"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"export {export_id} did not finish: {view}")


def download(world: World, view: dict[str, Any]) -> bytes:
    r = world.client.get(view["download"], headers=world.auth("operator"))
    assert r.status_code == 200, r.text
    digest = base64.b64encode(hashlib.sha256(r.content).digest()).decode()
    assert r.headers["repr-digest"] == f"sha-256=:{digest}:"
    assert hashlib.sha256(r.content).hexdigest() == view["result"]["sha256"]
    assert len(r.content) == view["result"]["bytes"]
    assert r.headers["content-type"].startswith(view["result"]["media_type"].split(";")[0])
    assert "attachment" in r.headers["content-disposition"]
    return r.content


def start(world: World, body: dict[str, Any]) -> dict[str, Any]:
    r = world.client.post("/api/v1/exports", json=body, headers=world.auth("operator"))
    assert r.status_code == 202, r.text
    view: dict[str, Any] = r.json()
    assert r.headers["location"] == f"/api/v1/exports/{view['job_id']}"
    assert view["kind"] == "export" and view["status"] in ("queued", "running", "done")
    return view


def test_the_ledger_export_is_the_parquet_dataset_with_progress(world: World,
                                                                tmp_path: Path) -> None:
    world.app.state.sc.exports = tmp_path / "exports"
    rows = [{**CSV_ROW, "record_id": f"court-01:{i}", "subject": f"p{i % 7}"}
            for i in range(40)]
    assert world.client.post("/api/v1/records", json=rows, headers=world.auth("court")
                             ).status_code == 200
    view = finished(world, start(world, {"kind": "ledger"})["job_id"])
    assert view["status"] == "done", view
    counts = view["result"]["manifest"]["counts"]
    assert counts["records"] == 40 and counts["subjects"] == 7
    # progress counts the subject and record rows written, of all there are
    assert view["progress"] == {"done": 47, "total": 47, "fraction": 1.0}
    data = download(world, view)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        assert "manifest.json" in names
        assert json.loads(z.read("manifest.json"))["counts"]["records"] == 40
        z.extractall(tmp_path / "unzipped")
    records = pq.read_table(tmp_path / "unzipped" / "records").to_pydict()
    assert sorted(records["record_id"]) == sorted(r["record_id"] for r in rows)
    # the listing shows it; nothing is left half-written in the exports directory
    listed = world.client.get("/api/v1/exports", headers=world.auth("operator")).json()
    assert [e["job_id"] for e in listed] == [view["job_id"]]
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == \
        [view["result"]["file"]]


def test_the_log_and_a_subjects_file_export(world: World, tmp_path: Path) -> None:
    world.app.state.sc.exports = tmp_path
    world.client.post("/api/v1/records", json=[CSV_ROW], headers=world.auth("court"))
    log = finished(world, start(world, {"kind": "log"})["job_id"])
    assert log["status"] == "done", log
    with zipfile.ZipFile(io.BytesIO(download(world, log))) as z:
        assert {"leaves.jsonl", "checkpoints.jsonl", "checkpoint", "verifier-key.txt",
                "manifest.json"} <= set(z.namelist())
        size = json.loads(z.read("manifest.json"))["size"]
        assert len(z.read("leaves.jsonl").splitlines()) == size > 0
    as_json = finished(world, start(world, {"kind": "file", "subject": "alice"})["job_id"])
    assert as_json["status"] == "done" and as_json["result"]["subject"] == "alice"
    f = json.loads(download(world, as_json))
    assert f["subject"] == "alice" and any(r["record_id"] == "court-01:1"
                                           for r in f["records"])
    as_html = finished(world, start(world, {"kind": "file", "subject": "alice",
                                            "format": "html"})["job_id"])
    assert download(world, as_html).lstrip().lower().startswith(b"<!doctype html")
    # the operator's reading of alice's file is in alice's access log
    asked = world.client.get("/api/v1/me/access-log", headers=world.auth("alice")).json()
    assert any(a["principal"] == "operator" for a in asked)


def test_bad_export_requests_are_refused_before_any_job(world: World,
                                                        tmp_path: Path) -> None:
    world.app.state.sc.exports = tmp_path
    c, op = world.client, world.auth("operator")
    is_problem(c.post("/api/v1/exports", json={"kind": "everything"}, headers=op),
               422, "usage")
    is_problem(c.post("/api/v1/exports", json={"kind": "ledger", "format": "html"},
                      headers=op), 400, "usage")
    is_problem(c.post("/api/v1/exports", json={"kind": "file"}, headers=op), 400, "usage")
    is_problem(c.post("/api/v1/exports", json={"kind": "log", "subject": "alice"},
                      headers=op), 400, "usage")
    is_problem(c.post("/api/v1/exports", json={"kind": "file", "subject": "nobody"},
                      headers=op), 404, "not_found")
    assert c.get("/api/v1/exports", headers=op).json() == []
    is_problem(c.get("/api/v1/exports/job-nope", headers=op), 404, "not_found")
    is_problem(c.get("/api/v1/exports/job-nope/file", headers=op), 404, "not_found")
    # a score job is not an export
    score = c.post("/api/v1/jobs/score", json={}, headers=op).json()
    is_problem(c.get(f"/api/v1/exports/{score['job_id']}", headers=op), 404, "not_found")
    # an export whose file was removed from the directory
    view = finished(world, start(world, {"kind": "log"})["job_id"])
    (tmp_path / view["result"]["file"]).unlink()
    is_problem(c.get(view["download"], headers=op), 404, "not_found")


def test_an_unfinished_export_has_no_file(world: World, tmp_path: Path) -> None:
    # the exports directory cannot be created: the job fails, and says why
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    world.app.state.sc.exports = blocker / "exports"
    view = finished(world, start(world, {"kind": "log"})["job_id"])
    assert view["status"] == "failed" and view["error"]["message"]
    assert "download" not in view
    is_problem(world.client.get(f"/api/v1/exports/{view['job_id']}/file",
                                headers=world.auth("operator")), 409, "export.not_ready")


def test_only_an_operator_exports(world: World, tmp_path: Path) -> None:
    world.app.state.sc.exports = tmp_path
    c = world.client
    view = finished(world, start(world, {"kind": "log"})["job_id"])
    assert set(OPERATIONS["exports.run"].roles) == {"operator"}
    assert set(OPERATIONS["exports.read"].roles) == {"operator"}
    for who, role in ROLES.items():
        if role == "operator":
            continue
        for method, path, body in (("POST", "/api/v1/exports", {"kind": "log"}),
                                   ("GET", "/api/v1/exports", None),
                                   ("GET", f"/api/v1/exports/{view['job_id']}", None),
                                   ("GET", view["download"], None)):
            is_problem(c.request(method, path, json=body, headers=world.auth(who)),
                       403, "forbidden")
    for method, path in (("POST", "/api/v1/exports"), ("GET", view["download"])):
        is_problem(c.request(method, path), 401, "unauthenticated")
    # alice asked for nobody's export and nobody read her file
    assert c.get("/api/v1/me/access-log", headers=world.auth("alice")).json() == []


def test_export_files_are_not_kept_past_a_week(world: World, tmp_path: Path) -> None:
    """Exports hold personal data: a file older than KEEP_DAYS is removed at the next
    start or download, and its download then says it is no longer kept; a fresh one, and
    files that are not exports, stay."""
    import os
    import time

    from socialcredit.service.exports import KEEP_DAYS

    world.app.state.sc.exports = tmp_path
    c, op = world.client, world.auth("operator")
    c.post("/api/v1/records", json=[CSV_ROW], headers=world.auth("court"))
    old = finished(world, start(world, {"kind": "log"})["job_id"])
    fresh = finished(world, start(world, {"kind": "file", "subject": "alice"})["job_id"])
    leftover = tmp_path / "log-deadbeef.partial"
    leftover.mkdir()
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("operator's own file")
    week_ago = time.time() - KEEP_DAYS * 86400 - 60
    for p in (tmp_path / old["result"]["file"], leftover, unrelated):
        os.utime(p, (week_ago, week_ago))
    r = c.get(old["download"], headers=op)
    is_problem(r, 404, "not_found")
    assert "no longer kept" in r.json()["detail"]
    assert not (tmp_path / old["result"]["file"]).exists() and not leftover.exists()
    assert unrelated.exists()
    assert c.get(fresh["download"], headers=op).status_code == 200
