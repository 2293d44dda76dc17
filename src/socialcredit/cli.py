"""The command line: thin over the Python API, JSON for machines, rich tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from socialcredit.errors import IngestError, RefusedRulebook, SocialCreditError
from socialcredit.timeutil import format_instant, option_instant

app = typer.Typer(name="socialcredit", no_args_is_help=True, add_completion=False,
                  help="An open, accountable social credit system.")
provider_app = typer.Typer(no_args_is_help=True, help="Data providers and their roles.")
app.add_typer(provider_app, name="provider")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])

DbOpt = Annotated[str | None, typer.Option("--db", help="Ledger URL or SQLite path "
                                           "(default: $SOCIALCREDIT_DB, else ./socialcredit.db)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
ProgramOpt = Annotated[str | None, typer.Option("--program", help="Program id (optional when "
                                                "the ledger hosts one program).")]
AtOpt = Annotated[str | None, typer.Option("--at", help="Valid time t (ISO 8601 with a zone, "
                                           "or a date); default now.")]


def friendly(fn: F) -> F:
    """Errors users can act on become one clear message and a non-zero exit."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RefusedRulebook as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(3) from None
        except IngestError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(1) from None
        except SocialCreditError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def emit_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


# -- ledger and programs -----------------------------------------------------------------

@app.command()
@friendly
def init(rulebook: Annotated[Path, typer.Option("--rulebook", help="The first program's "
                                                "rulebook (YAML).")],
         db: DbOpt = None,
         effective: Annotated[str | None, typer.Option(help="When the first version takes "
                                                       "effect (default: from the beginning "
                                                       "of time).")] = None,
         json_: JsonOpt = False) -> None:
    """Create a ledger with a first program."""
    from socialcredit.ledger import Ledger
    from socialcredit.rulebook import load_rulebook

    rb = load_rulebook(rulebook)
    ledger = Ledger.init(rb, db, effective=option_instant(effective, "--effective"))
    info = {"db": ledger.url, "program": rb.rulebook, "version": rb.version,
            "sha256": rb.sha256}
    if json_:
        emit_json(info)
    else:
        out.print(f"created ledger {ledger.url} with program [bold]{rb.rulebook}[/] "
                  f"version {rb.version} (sha256 {rb.sha256[:16]}…)")


@app.command()
@friendly
def publish(file: Path, effective: Annotated[str | None, typer.Option(
                help="When this version takes effect (default: its publication time; a "
                     "program's first version: the beginning of time).")] = None,
            db: DbOpt = None, json_: JsonOpt = False) -> None:
    """Add a program, or a new version of one."""
    from socialcredit.ledger import Ledger
    from socialcredit.rulebook import load_rulebook

    rb = load_rulebook(file)
    with Ledger.open(db) as ledger:
        pv = ledger.publish(rb, effective=option_instant(effective, "--effective"))
    info = {"program": pv.program, "version": pv.version, "sha256": pv.sha256,
            "effective_at": format_instant(pv.effective_at),
            "published_at": format_instant(pv.published_at)}
    if json_:
        emit_json(info)
    else:
        out.print(f"published [bold]{pv.program}[/] version {pv.version}, effective "
                  f"{info['effective_at']} (sha256 {pv.sha256[:16]}…)")


@app.command()
@friendly
def programs(db: DbOpt = None, json_: JsonOpt = False) -> None:
    """List the programs and their versions."""
    from socialcredit.ledger import Ledger

    with Ledger.open(db) as ledger:
        rows = [{"program": pv.program, "version": pv.version, "sha256": pv.sha256,
                 "effective_at": format_instant(pv.effective_at),
                 "published_at": format_instant(pv.published_at)}
                for pv in ledger.program_versions()]
    if json_:
        emit_json(rows)
        return
    table = Table("program", "version", "effective", "published", "sha256")
    for r in rows:
        table.add_row(r["program"], r["version"], str(r["effective_at"]),
                      str(r["published_at"]), str(r["sha256"])[:16] + "…")
    out.print(table)


@provider_app.command("add")
@friendly
def provider_add(provider: str, role: Annotated[str, typer.Option("--role", help="The role "
                                                                  "rulebooks authorise "
                                                                  "(bank, court, reviewer…).")],
                 db: DbOpt = None) -> None:
    """Register a data provider with its role."""
    from socialcredit.ledger import Ledger

    with Ledger.open(db) as ledger:
        ledger.add_provider(provider, role)
    out.print(f"provider {provider} registered with role {role}")


@provider_app.command("list")
@friendly
def provider_list(db: DbOpt = None, json_: JsonOpt = False) -> None:
    """List registered providers."""
    from socialcredit.ledger import Ledger

    with Ledger.open(db) as ledger:
        provs = ledger.providers()
    if json_:
        emit_json(provs)
        return
    table = Table("provider", "role")
    for p, r in sorted(provs.items()):
        table.add_row(p, r)
    out.print(table)


# -- records ------------------------------------------------------------------------------

@app.command()
@friendly
def ingest(file: Path, db: DbOpt = None,
           skip_invalid: Annotated[bool, typer.Option(
               "--skip-invalid", help="Ingest the good rows; write the bad ones, with "
                                      "reasons, beside the input.")] = False,
           backfill: Annotated[bool, typer.Option(
               "--backfill", help="Operator's migration of a pilot's history: rows may "
                                  "carry recorded_at (default: occurred_at). Logged.")] = False,
           json_: JsonOpt = False) -> None:
    """Ingest records from CSV or JSONL (all or nothing unless --skip-invalid)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from socialcredit.ledger import Ledger, ingest_file

    estimate = _estimate_rows(file)
    with Ledger.open(db) as ledger, Progress(
            TextColumn("validating {task.completed:,} of ~{task.total:,} rows"), BarColumn(),
            TimeElapsedColumn(), console=err, transient=True,
            disable=estimate < 100_000 or not err.is_terminal) as bar:
        task = bar.add_task("ingest", total=estimate)
        rep = ingest_file(ledger, file, skip_invalid=skip_invalid, backfill=backfill,
                          progress=lambda n: bar.update(task, completed=n))
    if json_:
        emit_json(rep.as_dict())
    else:
        out.print(f"{file}: {rep.accepted} record(s) ingested, {rep.duplicates} already "
                  f"present, {rep.rejected} rejected")
    if rep.rejected_file:
        err.print(f"rejected rows, with reasons: {rep.rejected_file}")


def _estimate_rows(path: Path) -> int:
    """Rows in a record file, estimated from its size and its first 64 KiB."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        return 0
    lines = head.count(b"\n") or 1
    return int(size / (len(head) / lines)) if head else 0


# -- reading ------------------------------------------------------------------------------

@app.command()
@friendly
def standing(subject: str, program: ProgramOpt = None, at: AtOpt = None,
             known_at: Annotated[str | None, typer.Option(
                 "--known-at", help="Transaction time k: what the ledger knew (default: "
                                    "--at).")] = None,
             db: DbOpt = None, json_: JsonOpt = False) -> None:
    """A subject's standing, explained record by record."""
    from socialcredit.ledger import Ledger
    from socialcredit.scoring import compute_standing

    with Ledger.open(db) as ledger:
        st = compute_standing(ledger, subject, program, option_instant(at, "--at"),
                              option_instant(known_at, "--known-at"))
    if json_:
        emit_json(st.as_dict())
        return
    from socialcredit.render import render_standing

    render_standing(out, st)


@app.command()
@friendly
def check(subject: str, action: str, program: ProgramOpt = None, at: AtOpt = None,
          materialized: Annotated[bool, typer.Option(
              "--materialized", help="Read the standing from the materialized table "
                                     "(`score --all`; kept current on ingest).")] = False,
          db: DbOpt = None, json_: JsonOpt = False) -> None:
    """May SUBJECT do ACTION, and on what terms? Logged in the decision log."""
    from socialcredit.decisions import check as decide
    from socialcredit.ledger import Ledger

    with Ledger.open(db) as ledger:
        d = decide(ledger, subject, action, program, option_instant(at, "--at"),
                   materialized=materialized)
    if json_:
        emit_json(d.as_dict())
        return
    from socialcredit.render import render_decision

    render_decision(out, d)


@app.command()
@friendly
def decisions(subject: Annotated[str | None, typer.Argument()] = None,
              limit: int = 20, db: DbOpt = None, json_: JsonOpt = False) -> None:
    """Read the decision log (a subject reads the decisions about itself)."""
    from socialcredit.decisions import decision_log
    from socialcredit.ledger import Ledger

    with Ledger.open(db) as ledger:
        rows = decision_log(ledger, subject, limit)
    if json_:
        emit_json(rows)
        return
    table = Table("decided at", "subject", "action", "effect", "program", "decision id")
    for r in rows:
        table.add_row(r["decided_at"], r["subject"], r["action"], r["effect"],
                      f"{r['rulebook']['id']} {r['rulebook']['version']}", r["decision_id"])
    out.print(table)


@app.command("seal-decisions")
@friendly
def seal_decisions_cmd(db: DbOpt = None, json_: JsonOpt = False) -> None:
    """Commit the decisions made since the last seal to the transparency log (a digest per
    program; no personal data). Run it on a schedule, e.g. hourly."""
    from socialcredit.decisions import seal_decisions
    from socialcredit.ledger import Ledger

    with Ledger.open(db) as ledger:
        sealed = seal_decisions(ledger)
    if json_:
        emit_json(sealed)
        return
    if not sealed:
        out.print("no new decisions to seal")
    for b in sealed:
        out.print(f"sealed {b['count']} decision(s) of {b['program']}: sha256 {b['digest']}")


# -- synthetic data and the demo -----------------------------------------------------------

@app.command()
@friendly
def synth(program: Annotated[str, typer.Option("--program", help="Shipped rulebook name or "
                                               "a rulebook YAML file.")],
          subjects: Annotated[int, typer.Option("--subjects")] = 1000,
          months: Annotated[int, typer.Option("--months")] = 24,
          seed: Annotated[int, typer.Option("--seed")] = 0,
          out_file: Annotated[Path | None, typer.Option("--out", help="Output file (.csv or "
                                                        ".jsonl); default "
                                                        "<program>-<n>.csv")] = None,
          end: Annotated[str | None, typer.Option("--end", help="Last day of the history "
                                                  "(default 2026-10-31).")] = None) -> None:
    """Write a realistic synthetic ledger file for a rulebook (deterministic per seed)."""
    from socialcredit.synth import synthesize_to_file

    path = out_file or Path(f"{Path(program).stem}-{subjects}.csv")
    stats = synthesize_to_file(program, path, subjects=subjects, months=months, seed=seed,
                               end=option_instant(end, "--end"))
    out.print(f"wrote {stats.records} records about {stats.subjects} subjects (of {subjects}; "
              f"the rest have no records) to {path}")
    out.print(f"districts (for the policy lab): {stats.groups_file}")
    out.print(f"providers to register: {', '.join(f'{p} ({r})' for p, r in stats.providers)}")


@app.command()
@friendly
def demo(db: Annotated[Path, typer.Option("--db", help="Where to build the demo ledger.")]
         = Path("demo.db"),
         subjects: Annotated[int, typer.Option("--subjects")] = 10_000,
         seed: Annotated[int, typer.Option("--seed")] = 7) -> None:
    """Build ./demo.db from the shipped rulebooks and a synthetic population, then show
    what the system does: tiers, listings, one explained standing, decisions."""
    from socialcredit.demo import run_demo

    run_demo(out, db, subjects=subjects, seed=seed)


def _mount_optional() -> None:
    """Sub-commands that live in their own modules (each keeps heavy imports inside its
    command, so the CLI starts fast)."""
    from socialcredit.batch_cli import export_cmd, import_cmd, score_cmd
    from socialcredit.lint.cli import LINT_CONTEXT, lint_cmd
    from socialcredit.scorecard_cli import import_scorecard_cmd
    from socialcredit.transparency.cli import app as log_app
    from socialcredit.uscc_cli import uscc_cmd

    app.command("uscc", help="Validate and explain Unified Social Credit Codes.")(uscc_cmd)
    app.command("lint", help="Lint a rulebook (baseline + legal profiles; exit 0/1/2/64).",
                context_settings=LINT_CONTEXT)(lint_cmd)
    app.command("import-scorecard", help="Turn a fitted scorecard into a rulebook YAML."
                )(import_scorecard_cmd)
    app.command("score", help="Materialize every subject's standing (batch or Spark engine)."
                )(score_cmd)
    app.command("export", help="Export the ledger as a Parquet dataset.")(export_cmd)
    app.command("import", help="Import a Parquet ledger export (validated, idempotent)."
                )(import_cmd)
    app.add_typer(log_app, name="log", help="The public transparency log.")


_mount_optional()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
