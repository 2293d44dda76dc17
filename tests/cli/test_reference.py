"""The command reference and the exit-code table hold for every command.

docs/cli.md is generated from the live command tree (cog); a stale page fails here.
Every command is then driven into each outcome the one table names, and must exit with
the table's code — a new command without a case here fails the coverage test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.cli.errors import EXIT_BY_CODE, EXIT_MEANINGS
from socialcredit.cli.reference import commands
from socialcredit.errors import CODES
from tests.conftest import ROOT, RULEBOOKS

DOC = ROOT / "docs" / "cli.md"
runner = CliRunner()


def test_the_reference_is_current() -> None:
    p = subprocess.run([sys.executable, "-m", "cogapp", "--check", str(DOC)],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, "docs/cli.md is stale: run `cog -r docs/cli.md`\n" + p.stderr


def test_every_command_and_option_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for path, cmd in commands():
        heading = f"## `{path}`\n" if path.count(" ") <= 1 else f"### `{path}`\n"
        assert heading in text, path
        section = text.split(heading, 1)[1].split("\n#", 1)[0]
        for param in getattr(cmd, "params", []):
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert opt in section, f"{path}: {opt}"


def test_the_documented_tables_are_the_code_tables() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code, meaning in EXIT_MEANINGS.items():
        assert f"| {code} | {meaning} |" in text
    for code, exit_code in EXIT_BY_CODE.items():
        assert f"| `{code}` | {exit_code} |" in text
    for code in CODES:
        assert f"| `{code}` |" in text


def test_every_error_code_raised_in_the_package_is_registered() -> None:
    import re

    src = ROOT / "src" / "socialcredit"
    raised = set()
    for f in src.rglob("*.py"):
        raised |= set(re.findall(r'code="([a-z_.]+)"', f.read_text(encoding="utf-8")))
        raised |= set(re.findall(r'^\s+code = "([a-z_.]+)"', f.read_text(encoding="utf-8"),
                                 re.M))
    assert raised and raised <= set(CODES), raised - set(CODES)


# -- every command into every outcome ------------------------------------------------------

H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
REFUSED = (RULEBOOKS / "media-reported.yaml").read_text(encoding="utf-8")


@pytest.fixture
def world(tmp_path: Path) -> dict[str, str]:
    """A ledger with two programs and a few records; files for the failure cases."""
    db = str(tmp_path / "l.db")
    for args in (["init", "--rulebook", str(RULEBOOKS / "rongcheng.yaml"), "--db", db],
                 ["publish", str(RULEBOOKS / "judgment-defaulters.yaml"), "--db", db],
                 ["provider", "add", "court-01", "--role", "court", "--db", db]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
    good = tmp_path / "good.csv"
    good.write_text(H + "court-01:1,court-01,bob,person,court.refuses_to_perform,2026-10-20,"
                        "able_but_refuses,urn:case:1,\n", encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(H + "x:1,nobody,bob,person,no.such.type,2026-10-20,,,\n", encoding="utf-8")
    refused = tmp_path / "refused.yaml"
    refused.write_text(REFUSED, encoding="utf-8")
    flagged = tmp_path / "flagged.yaml"
    flagged.write_text("catalogue: bad\nversion: '1'\nitems:\n  - {id: mosque.attendance, "
                       "providers: [police], legal_basis: x}\n", encoding="utf-8")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "f").write_text("x")
    return {"db": db, "missing": str(tmp_path / "none.db"), "good": str(good),
            "bad": str(bad), "refused": str(refused), "full": str(tmp_path / "full"),
            "flagged": str(flagged),
            "tmp": str(tmp_path), "rongcheng": str(RULEBOOKS / "rongcheng.yaml")}


CASES: list[tuple[str, list[str], int]] = [
    # (command path, arguments with {placeholders}, expected exit)
    ("socialcredit", ["--version"], 0),
    ("socialcredit", ["--no-such-option"], 64),
    ("socialcredit init", ["--rulebook", "{refused}", "--db", "{missing}"], 3),
    ("socialcredit init", ["--rulebook", "{rongcheng}", "--db", "{db}"], 1),  # exists
    ("socialcredit init", ["--rulebook", "{rongcheng}", "--db", "{missing}",
                           "--effective", "yesterday"], 64),
    ("socialcredit publish", ["{refused}", "--db", "{db}"], 3),
    ("socialcredit publish", ["{rongcheng}", "--db", "{missing}"], 1),
    ("socialcredit publish", ["{rongcheng}", "--strict", "--db", "{db}"], 2),  # lint errors
    ("socialcredit catalogue", [], 64),
    ("socialcredit catalogue publish", ["cn-public-credit", "--db", "{db}"], 0),
    ("socialcredit catalogue publish", ["{flagged}", "--db", "{db}"], 3),
    ("socialcredit catalogue publish", ["no-such-catalogue", "--db", "{db}"], 1),
    ("socialcredit catalogue list", ["--db", "{db}", "--json"], 0),
    ("socialcredit catalogue list", ["--db", "{missing}"], 1),
    ("socialcredit programs", ["--db", "{db}", "--json"], 0),
    ("socialcredit programs", ["--db", "{missing}"], 1),
    ("socialcredit provider", [], 64),  # a group alone: its help, as a usage error
    ("socialcredit provider add", ["court-01", "--role", "bank", "--db", "{db}"], 1),
    ("socialcredit provider add", ["court-01"], 64),
    ("socialcredit provider add", ["p-9", "--role", "polcie", "--db", "{db}"], 1),  # a typo
    ("socialcredit provider add", ["p-9", "--role", "ombudsman", "--new-role", "--db",
                                   "{db}"], 0),
    ("socialcredit provider list", ["--db", "{db}"], 0),
    ("socialcredit provider list", ["--db", "{missing}"], 1),
    ("socialcredit db", [], 64),
    ("socialcredit db upgrade", ["--db", "{db}"], 0),
    ("socialcredit db upgrade", ["--db", "{missing}"], 1),
    ("socialcredit ingest", ["{good}", "--db", "{db}"], 0),
    ("socialcredit ingest", ["{bad}", "--db", "{db}"], 1),
    ("socialcredit ingest", ["{tmp}/absent.csv", "--db", "{db}"], 1),
    ("socialcredit standing", ["bob", "--program", "rongcheng", "--db", "{db}"], 0),
    ("socialcredit standing", ["bob", "--db", "{db}"], 1),  # two programs: which?
    ("socialcredit standing", ["bob", "--at", "soon", "--db", "{db}"], 64),
    ("socialcredit check", ["bob", "rental.bike", "--program", "rongcheng", "--db", "{db}"],
     0),
    ("socialcredit check", ["bob"], 64),
    ("socialcredit check", ["bob", "x", "--program", "nope", "--db", "{db}"], 1),
    ("socialcredit decisions", ["--db", "{db}"], 0),
    ("socialcredit decisions", ["--db", "{missing}"], 1),
    ("socialcredit seal-decisions", ["--db", "{db}"], 0),
    ("socialcredit seal-decisions", ["--db", "{missing}"], 1),
    ("socialcredit score", ["--db", "{db}"], 64),
    ("socialcredit score", ["--all", "--engine", "quantum", "--db", "{db}"], 64),
    ("socialcredit score", ["--all", "--program", "rongcheng", "--db", "{db}", "--quiet"], 0),
    ("socialcredit export", ["{full}", "--db", "{db}"], 1),
    ("socialcredit import", ["{tmp}", "--db", "{tmp}/copy.db"], 1),
    ("socialcredit rulebook", [], 64),
    ("socialcredit rulebook show", ["platform"], 0),
    ("socialcredit rulebook show", ["media-reported", "--json"], 0),  # refused, still shown
    ("socialcredit rulebook show", ["nosuch"], 1),
    ("socialcredit rulebook show", ["platform", "--json", "--markdown"], 64),
    ("socialcredit schema", [], 64),
    ("socialcredit schema rulebook", [], 0),
    ("socialcredit schema catalogue", [], 0),
    ("socialcredit lint", ["{refused}"], 3),
    ("socialcredit lint", ["rongcheng"], 2),
    ("socialcredit lint", ["corporate"], 0),
    ("socialcredit lint", [], 64),
    ("socialcredit import-scorecard", ["{bad}"], 1),
    ("socialcredit uscc", ["91350100M000100Y43"], 0),
    ("socialcredit uscc", ["91350100I000100Y43"], 2),
    ("socialcredit lab", [], 64),
    ("socialcredit lab run", ["--rulebook", "judgment-defaulters", "--population", "200",
                              "--months", "3", "--out", "{tmp}/lab"], 0),
    ("socialcredit lab run", ["--rulebook", "{refused}", "--out", "{tmp}/lab2"], 3),
    ("socialcredit lab run", ["--rulebook", "judgment-defaulters", "--scenario", "nope",
                              "--out", "{tmp}/lab3"], 1),
    ("socialcredit lab compare", ["judgment-defaulters", "{refused}", "--population", "100",
                                  "--months", "2", "--seeds", "1"], 3),
    ("socialcredit lab compare", ["judgment-defaulters", "judgment-defaulters",
                                  "--population", "100", "--months", "2", "--seeds", "1"], 0),
    ("socialcredit diff-impact", ["judgment-defaulters", "judgment-defaulters", "--db",
                                  "{db}"], 0),
    ("socialcredit diff-impact", ["rongcheng", "{refused}", "--db", "{db}"], 3),
    ("socialcredit diff-impact", ["rongcheng@9", "rongcheng", "--db", "{db}"], 1),
    ("socialcredit synth", ["--program", "no-such-rulebook", "--out", "{tmp}/s.csv"], 1),
    ("socialcredit synth", ["--program", "rongcheng", "--subjects", "0",
                            "--out", "{tmp}/s.csv"], 64),
    ("socialcredit demo", ["--db", "{tmp}/demo.db", "--subjects", "0"], 64),
    ("socialcredit log", [], 64),
    ("socialcredit log checkpoint", ["--db", "{db}"], 0),
    ("socialcredit log checkpoint", ["--db", "{missing}"], 1),
    ("socialcredit log leaves", ["--db", "{db}", "--start", "9", "--end", "1"], 1),
    ("socialcredit log prove", ["0", "--db", "{db}"], 0),
    ("socialcredit log prove", ["999", "--db", "{db}"], 1),
    ("socialcredit log consistency", ["1", "2", "--db", "{db}"], 0),
    ("socialcredit log consistency", ["2", "1", "--db", "{db}"], 1),
    ("socialcredit log verify", ["--db", "{db}"], 0),
    ("socialcredit log verify", ["--db", "{db}", "--export", "{tmp}"], 64),
    ("socialcredit log pubkey", ["--db", "{db}"], 0),
    ("socialcredit log pubkey", ["--db", "{missing}"], 1),
    ("socialcredit log export", ["{tmp}/logexp", "--db", "{db}"], 0),
    ("socialcredit log export", ["{tmp}/logexp2", "--db", "{missing}"], 1),
    ("socialcredit log mine", ["bob", "--db", "{db}", "--json"], 0),
    ("socialcredit log mine", ["bob", "--db", "{missing}"], 1),
    ("socialcredit backup", ["{tmp}/b.backup", "--db", "{db}"], 0),
    ("socialcredit backup", ["{tmp}/b2.backup", "--db", "{missing}"], 1),
    ("socialcredit backup", [], 64),
    ("socialcredit serve", ["--db", "{missing}"], 1),
    ("socialcredit serve", ["--port", "0"], 64),
    ("socialcredit restore", ["{tmp}/no.backup", "--db", "{tmp}/r.db"], 1),
    ("socialcredit restore", ["{good}", "--db", "{tmp}/r.db"], 1),  # not a backup
    ("socialcredit restore", [], 64),
    ("socialcredit verify", ["--db", "{db}"], 0),
    ("socialcredit verify", ["--db", "{missing}"], 1),
    ("socialcredit verify", ["--db", "{db}", "--pubkey", "{tmp}/absent.pub"], 1),
    ("socialcredit log mine", ["bob", "--db", "{db}", "--as", "rail"], 4),
    ("socialcredit log mine", ["bob", "--db", "{db}", "--as", "bob-p"], 0),
    # -- due process (the rights world below: bob's record, principals, a case, a grant)
    ("socialcredit standing", ["bob", "--program", "rongcheng", "--db", "{db}",
                               "--as", "nobody"], 1),
    ("socialcredit standing", ["bob", "--program", "judgment-defaulters", "--db", "{db}",
                               "--as", "rail"], 0),  # public list: membership only
    ("socialcredit standing", ["alice", "--program", "rongcheng", "--db", "{db}",
                               "--as", "bob-p"], 4),
    ("socialcredit check", ["bob", "rental.bike", "--program", "rongcheng", "--db", "{db}",
                            "--as", "rail", "--purpose", "loan"], 4),  # no consent for it
    ("socialcredit check", ["bob", "rail.g_train_ticket", "--program", "judgment-defaulters",
                            "--db", "{db}", "--as", "rail", "--purpose", "ticket"], 0),
    ("socialcredit ingest", ["{good}", "--db", "{db}", "--as", "bob-p"], 4),
    ("socialcredit principal", [], 64),
    ("socialcredit principal add", ["carol", "--role", "subject", "--subject", "carol",
                                    "--db", "{db}"], 0),
    ("socialcredit principal add", ["x", "--role", "king", "--db", "{db}"], 1),
    ("socialcredit principal add", ["x", "--role", "auditor", "--db", "{db}",
                                    "--as", "bob-p"], 4),
    ("socialcredit principal list", ["--db", "{db}", "--json"], 0),
    ("socialcredit principal list", ["--db", "{db}", "--as", "rev"], 4),
    ("socialcredit principal revoke", ["rail", "--db", "{db}"], 0),
    ("socialcredit principal revoke", ["nobody", "--db", "{db}"], 1),
    ("socialcredit principal rotate", ["rail", "--db", "{db}", "--json"], 0),
    ("socialcredit principal rotate", ["nobody", "--db", "{db}"], 1),
    ("socialcredit notices", ["bob", "--db", "{db}", "--json"], 0),
    ("socialcredit notices", ["--db", "{db}", "--as", "bob-p"], 0),
    ("socialcredit notices", ["alice", "--db", "{db}", "--as", "bob-p"], 4),
    ("socialcredit notices", ["--db", "{db}"], 64),  # whose?
    ("socialcredit notices", ["--alerts", "--db", "{db}"], 0),
    ("socialcredit outbox", [], 64),
    ("socialcredit outbox run", ["--db", "{db}", "--json"], 0),
    ("socialcredit outbox run", ["--db", "{db}", "--smtp", "mail.example:25"], 1),
    ("socialcredit outbox run", ["--db", "{db}", "--as", "rev"], 4),
    ("socialcredit object", ["court-01:1", "--grounds", "not me", "--db", "{db}",
                             "--as", "bob-p"], 1),  # already under review
    ("socialcredit object", ["nope", "--grounds", "x", "--db", "{db}"], 1),
    ("socialcredit object", ["court-01:1", "--grounds", "x", "--db", "{db}",
                             "--as", "rail"], 4),
    ("socialcredit object", ["court-01:1", "--db", "{db}"], 64),
    ("socialcredit appeal", ["{case}", "--grounds", "x", "--db", "{db}", "--as", "bob-p"], 1),
    ("socialcredit appeal", ["{case}", "--grounds", "x", "--db", "{db}", "--as", "rev"], 4),
    ("socialcredit review", [], 64),
    ("socialcredit review queue", ["--db", "{db}", "--as", "rev", "--json"], 0),
    ("socialcredit review queue", ["--db", "{db}", "--as", "bob-p"], 4),
    ("socialcredit review decide", ["{case}", "--outcome", "voided", "--reasons", "wrong",
                                    "--db", "{db}", "--as", "rev"], 0),
    ("socialcredit review decide", ["{case}", "--outcome", "maybe", "--reasons", "r",
                                    "--db", "{db}", "--as", "rev"], 1),
    ("socialcredit review decide", ["{case}", "--outcome", "voided", "--reasons", "r",
                                    "--db", "{db}", "--as", "bob-p"], 4),
    ("socialcredit repair", [], 64),
    ("socialcredit repair apply", ["court-01:1", "--condition", "commitment=yes",
                                   "--db", "{db}", "--as", "bob-p"], 1),
    ("socialcredit repair apply", ["court-01:1", "--condition", "nonsense", "--db", "{db}",
                                   "--as", "bob-p"], 64),
    ("socialcredit repair apply", ["court-01:1", "--db", "{db}", "--as", "rail"], 4),
    ("socialcredit repair decide", ["{case}", "--outcome", "granted", "--reasons", "r",
                                    "--db", "{db}", "--as", "rev"], 1),  # an objection
    ("socialcredit repair decide", ["{case}", "--outcome", "granted", "--reasons", "r",
                                    "--db", "{db}", "--as", "bob-p"], 4),
    ("socialcredit consent", [], 64),
    ("socialcredit consent grant", ["rail", "--purpose", "loan", "--scope", "tier",
                                    "--db", "{db}", "--as", "bob-p"], 0),
    ("socialcredit consent grant", ["rail", "--purpose", "loan", "--scope", "everything",
                                    "--db", "{db}", "--as", "bob-p"], 1),
    ("socialcredit consent grant", ["rail", "--purpose", "loan", "--scope", "tier",
                                    "--subject", "bob", "--db", "{db}", "--as", "rail"], 4),
    ("socialcredit consent list", ["--db", "{db}", "--as", "bob-p", "--json"], 0),
    ("socialcredit consent list", ["--db", "{db}", "--as", "rail"], 0),
    ("socialcredit consent list", ["--db", "{db}", "--as", "rev"], 4),
    ("socialcredit consent revoke", ["{grant}", "--db", "{db}", "--as", "bob-p"], 0),
    ("socialcredit consent revoke", ["nope", "--db", "{db}"], 1),
    ("socialcredit file", ["bob", "--db", "{db}", "--json"], 0),
    ("socialcredit file", ["--db", "{db}", "--as", "bob-p", "--html"], 0),
    ("socialcredit file", ["bob", "--db", "{db}", "--as", "rail"], 4),
    ("socialcredit file", ["bob", "--html", "--json", "--db", "{db}"], 64),
    ("socialcredit access-log", ["bob", "--db", "{db}", "--json"], 0),
    ("socialcredit access-log", ["bob", "--db", "{db}", "--as", "rail"], 4),
    ("socialcredit retention", [], 64),
    ("socialcredit retention run", ["--db", "{db}", "--json"], 0),
    ("socialcredit retention run", ["--db", "{db}", "--as", "bob-p"], 4),
]


def rights_world(world: dict[str, str]) -> None:
    """bob's court record, principals of several roles, an open objection, a grant."""
    from socialcredit.service import Service

    with Service.open(world["db"]) as svc:
        svc.records.ingest_file(world["good"])
        svc.principals.add("bob-p", "subject", subject="bob")
        svc.principals.add("rev", "reviewer")
        svc.principals.add("rail", "relying_party")
        bob = svc.acting_as("bob-p")
        world["case"] = bob.cases.object("court-01:1", "not me")["case_id"]
        world["grant"] = bob.consents.grant("rail", "ticket", "effect")["grant_id"]


@pytest.mark.parametrize(("path", "args", "code"), CASES,
                         ids=[f"{p.removeprefix('socialcredit').strip() or 'root'}:{c}:{i}"
                              for i, (p, _, c) in enumerate(CASES)])
def test_every_command_exits_as_the_table_says(world: dict[str, str], path: str,
                                               args: list[str], code: int) -> None:
    if any("--as" in a or "{case}" in a or "{grant}" in a for a in args) or path.split()[
            1:2] in (["principal"], ["notices"], ["object"], ["file"], ["access-log"]):
        rights_world(world)
    argv = [*path.split()[1:], *(a.format(**world) for a in args)]
    res = runner.invoke(app, argv)
    assert res.exit_code == code, res.output
    if code == 1:
        assert res.output.startswith("error[") or "error[" in res.output, res.output


def test_every_command_has_exit_code_cases() -> None:
    covered = {p for p, _, _ in CASES}
    assert {p for p, _ in commands()} <= covered


def test_a_ledger_that_does_not_verify_exits_2(world: dict[str, str]) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{world['db']}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE sc_providers SET role = 'bank' WHERE provider = 'court-01'"))
    engine.dispose()
    res = runner.invoke(app, ["verify", "--db", world["db"], "--json"])
    assert res.exit_code == 2
    assert json.loads(res.stdout)["ledger"]["problems"][0]["ref"] == "court-01"


def test_a_log_that_does_not_verify_exits_2(world: dict[str, str]) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{world['db']}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE tlog_leaves SET data = X'00' WHERE idx = 0"))
    engine.dispose()
    res = runner.invoke(app, ["log", "verify", "--db", world["db"], "--json"])
    assert res.exit_code == 2
    assert json.loads(res.stdout)["ok"] is False
