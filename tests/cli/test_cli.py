"""The CLI as outside checks drive it: real processes, JSON read exactly as the contract
(docs/semantics.md) says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import RULEBOOKS
from tests.helpers import BASE, TEST_CATALOGUE

H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"


def run(*args: str, db: str, ok: bool = True, cwd: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOCIALCREDIT_DB": db}
    p = subprocess.run([sys.executable, "-m", "socialcredit", *args], capture_output=True,
                       text=True, env=env, cwd=cwd, timeout=300)
    if ok:
        assert p.returncode == 0, p.stderr + p.stdout
    return p


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path) -> str:
    rb = tmp_path / "rb.yaml"
    rb.write_text(BASE, encoding="utf-8")
    cat = tmp_path / "catalogue.yaml"
    cat.write_text(TEST_CATALOGUE, encoding="utf-8")
    run("init", "--rulebook", str(rb), "--catalogue", str(cat), db=db_url)
    for p, role in (("bank-1", "bank"), ("court-1", "court"), ("rev-1", "reviewer")):
        run("provider", "add", p, "--role", role, db=db_url)
    return db_url


def test_standing_and_check_json_shape(cli_db, tmp_path):
    f = tmp_path / "r.csv"
    f.write_text(H + "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,sha256:1,\n"
                     "bank-1:b1,bank-1,alice,,bonus,2025-12-01,,,\n"
                     "court-1:c1,court-1,alice,,ruling,2025-12-01,,e,\n")
    run("ingest", str(f), db=cli_db)
    st = json.loads(run("standing", "alice", "--at", "2030-01-01", "--json", db=cli_db).stdout)
    for key in ("subject", "score", "tier", "dimensions", "lists", "contributions",
                "key_factors", "rulebook"):
        assert key in st
    assert st["subject"] == "alice"
    assert st["score"] == 1027.0  # arrears expired; bonus stays; history missing (-3)
    assert st["dimensions"] == {"money": -3.0, "civic": 30.0}
    assert set(st["rulebook"]) >= {"id", "version", "sha256"}
    assert st["rulebook"]["id"] == "test" and len(st["rulebook"]["sha256"]) == 64
    c = st["contributions"][0]
    assert set(c) >= {"record_id", "type", "points", "contribution"}
    # the listing is in force later than the notice and earlier than the max duration
    now_plus = json.loads(run("standing", "alice", "--at", "2099-01-01", "--known-at",
                              "2099-01-01", "--json", db=cli_db).stdout)
    assert now_plus["lists"] == []
    d = json.loads(run("check", "alice", "bike", "--at", "2030-01-01", "--json",
                       db=cli_db).stdout)
    for key in ("decision_id", "subject", "action", "effect", "grant", "reasons", "rulebook"):
        assert key in d
    # 1027 at 2030: tier A (deposit waived) and at least 1005 (free helmet)
    assert d["action"] == "bike" and d["effect"] == "benefit"
    assert d["grant"] == {"deposit_waived": True, "helmet": "free"}
    assert d["hypothetical"] is True  # asked about 2030, not about now
    listed = json.loads(run("decisions", "alice", "--json", db=cli_db).stdout)
    assert [x["decision_id"] for x in listed] == [d["decision_id"]]


def test_bad_input_exits_non_zero_naming_file_line_field(cli_db, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text(H + "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,sha256:1,\n"
                     "bank-1:a2,bank-1,alice,,arrears,not-a-time,,sha256:1,\n")
    p = run("ingest", str(f), db=cli_db, ok=False)
    assert p.returncode != 0
    assert f"{f}:3: occurred_at:" in p.stderr
    st = json.loads(run("standing", "alice", "--json", db=cli_db).stdout)
    assert st["contributions"] == []  # nothing from the refused file
    p = run("ingest", str(f), "--skip-invalid", db=cli_db)
    assert (tmp_path / "bad.rejected.csv").exists()
    assert "1 record(s) ingested" in p.stdout


def test_init_refuses_a_rulebook_crossing_a_line(tmp_path):
    rb = tmp_path / "bad.yaml"
    rb.write_text(BASE.replace("half_life: 100d, expires: 1y,", "half_life: 100d,"))
    db = f"sqlite:///{tmp_path / 'x.db'}"
    p = run("init", "--rulebook", str(rb), db=db, ok=False)
    assert p.returncode == 3
    assert "refused" in p.stderr and "rules[0]" in p.stderr and "redemption" in p.stderr
    assert not (tmp_path / "x.db").exists() or "no ledger" in run(
        "standing", "x", db=db, ok=False).stderr


def test_publish_effective_and_program_option(cli_db, tmp_path):
    second = tmp_path / "second.yaml"
    second.write_text(BASE.replace("rulebook: test", "rulebook: second"))
    out = json.loads(run("publish", str(second), "--json", db=cli_db).stdout)
    assert out["program"] == "second"
    p = run("standing", "alice", db=cli_db, ok=False)
    assert "choose one with --program" in p.stderr
    v2 = tmp_path / "v2.yaml"
    v2.write_text(BASE.replace('version: "1"', 'version: "2"'))
    out = json.loads(run("publish", str(v2), "--effective", "2030-01-01", "--json",
                         db=cli_db).stdout)
    assert out["effective_at"] == "2030-01-01T00:00:00Z"
    st = json.loads(run("standing", "alice", "--program", "test", "--at", "2031-01-01",
                        "--json", db=cli_db).stdout)
    assert st["rulebook"]["version"] == "2"
    p = run("standing", "alice", "--program", "test", "--at", "soon", db=cli_db, ok=False)
    assert "--at" in p.stderr and "ISO 8601" in p.stderr


def test_human_readable_tables(cli_db, tmp_path):
    f = tmp_path / "r.csv"
    # a month ago, so that the record still counts whenever the suite runs
    when = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    f.write_text(H + f"bank-1:a1,bank-1,alice,person,arrears,{when},,sha256:1,\n")
    run("ingest", str(f), db=cli_db)
    out = run("standing", "alice", db=cli_db).stdout
    assert "Every counting record" in out and "bank-1:a1" in out and "Key factors" in out
    out = run("check", "alice", "train", db=cli_db).stdout
    assert "ALLOW" in out and "decision" in out


def test_synth_is_deterministic_and_ingestible(tmp_path):
    a, b, c = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    for path, seed in ((a, "3"), (b, "3"), (c, "4")):
        run("synth", "--program", "rongcheng", "--subjects", "300", "--months", "12",
            "--seed", seed, "--out", str(path), db="unused.db", cwd=tmp_path)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    db = f"sqlite:///{tmp_path / 's.db'}"
    run("init", "--rulebook", str(RULEBOOKS / "rongcheng.yaml"), db=db)
    roles = {line.split(",")[1].strip('"') for line in a.read_text().splitlines()[1:]}
    for prov in roles:
        run("provider", "add", prov, "--role", prov.rsplit("-", 1)[0], db=db)
    out = json.loads(run("ingest", str(a), "--json", db=db).stdout)
    assert out["accepted"] == len(a.read_text().splitlines()) - 1
    assert out["rejected"] == 0


def test_ingest_row_path_reports_what_the_columnar_path_reports(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text(H + "bank-1:a1,bank-1,alice,person,bonus,2025-06-01T00:00:00Z,,ev,\n"
                 "bank-1:a2,bank-1,alice,,arrears,2025-06-02T00:00:00Z,,,\n"
                 "bank-1:a3,bank-1,bob,,bonus,2025-06-02T00:00:00Z,,ev,\n", encoding="utf-8")
    outs = []
    for name, extra in (("rows", ["--row-path"]), ("cols", [])):
        db = f"sqlite:///{tmp_path / f'{name}.db'}"
        rb = tmp_path / "rb.yaml"
        rb.write_text(BASE, encoding="utf-8")
        cat = tmp_path / "catalogue.yaml"
        cat.write_text(TEST_CATALOGUE, encoding="utf-8")
        run("init", "--rulebook", str(rb), "--catalogue", str(cat), db=db)
        run("provider", "add", "bank-1", "--role", "bank", db=db)
        p = run("ingest", str(f), "--json", "--skip-invalid", *extra, db=db)
        report = json.loads(p.stdout)
        report.pop("recorded_at")  # the ledger's clock: the wall clock here
        outs.append((report, (tmp_path / "r.rejected.csv").read_text()))
    assert outs[0] == outs[1]
    assert [e["row"] for e in outs[0][0]["errors"]] == [3, 4]


def test_demo_runs_on_a_small_population_and_says_what_the_ledger_holds(tmp_path):
    import re

    from socialcredit.service import Service

    db = tmp_path / "demo.db"
    p = run("demo", "--db", str(db), "--subjects", "400", db="unused.db", cwd=tmp_path)
    out = " ".join(p.stdout.split())
    for heading in ("Tier distribution", "Who is listed", "explained record by record",
                    "Decisions", "transparency log", "rights-and-law linter"):
        assert heading in out
    assert "media-reported" in out and "refused" in out
    assert list(tmp_path.iterdir()) == [db]  # its generated input went with the demo
    with Service.open(str(db)) as svc:
        ingested = int(re.search(r"Ingested ([\d,]+) records", out).group(1).replace(",", ""))
        assert ingested == svc.ledger.count_records() > 0
        court = svc.standings.all("judgment-defaulters")
        listed = int(re.search(r"([\d,]+) subjects on the public list", out).group(1)
                     .replace(",", ""))
        assert listed == sum(1 for s in court if s.lists)
        decisions = svc.decisions.log(None, 100)
        assert len(decisions) == len(re.findall(r"decision [0-9a-f-]{36}", out)) >= 2
        # decided for now, but the one asked for when the objection windows have run out
        assert all(d["action"] == "aviation.flight_ticket" for d in decisions
                   if d.get("hypothetical"))
        assert svc.log.verify().ok
        assert svc.log.checkpoint().note.split("\n", 1)[0] == "socialcredit/demo"


def test_uscc_command():
    p = run("uscc", "91350100M000100Y43", "--json", db="unused.db")
    assert json.loads(p.stdout)[0]["status"] == "valid"
