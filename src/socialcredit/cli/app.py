"""The root command and every command mounted on it.

Commands live in modules named for what they act on; each imports only Typer at module
level and everything heavy inside its function, so `--help` lists every command without
loading SQLAlchemy, NumPy or the engines.
"""

from __future__ import annotations

from typing import Annotated

import typer

from socialcredit import __version__
from socialcredit.cli import (
    demo,
    lab,
    ledger,
    lint,
    log,
    population,
    reading,
    records,
    rights,
    rulebook,
    scorecard,
    serve,
)
from socialcredit.cli import uscc as uscc_cli
from socialcredit.cli.errors import Group

app = typer.Typer(name="socialcredit", cls=Group, no_args_is_help=True, add_completion=False,
                  help="An open, accountable social credit system.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"socialcredit {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True,
        help="Print the version and exit.")] = False) -> None:
    """An open, accountable social credit system."""


# ledgers and programs
app.command("init")(ledger.init)
app.command("publish")(ledger.publish)
app.command("programs")(ledger.programs)
app.add_typer(ledger.provider_app, name="provider")
app.add_typer(ledger.catalogue_app, name="catalogue")
app.add_typer(ledger.db_app, name="db")
app.command("backup")(ledger.backup)
app.command("restore")(ledger.restore)
# records
app.command("ingest")(records.ingest)
# standings and decisions
app.command("standing")(reading.standing)
app.command("check")(reading.check)
app.command("decisions")(reading.decisions)
app.command("seal-decisions")(reading.seal_decisions)
# whole populations
app.command("score")(population.score)
app.command("export")(population.export)
app.command("import")(population.import_)
# the public log, and the ledger verified against it
app.add_typer(log.app, name="log")
app.command("verify")(log.verify_all)
# due process and the subject's rights
app.add_typer(rights.principal_app, name="principal")
app.command("notices")(rights.notices)
app.add_typer(rights.outbox_app, name="outbox")
app.command("object")(rights.object_cmd)
app.command("appeal")(rights.appeal_cmd)
app.add_typer(rights.review_app, name="review")
app.add_typer(rights.repair_app, name="repair")
app.add_typer(rights.consent_app, name="consent")
app.command("file")(rights.file_cmd)
app.command("access-log")(rights.access_log_cmd)
app.add_typer(rights.retention_app, name="retention")
# rulebooks and identifiers
app.add_typer(rulebook.rulebook_app, name="rulebook")
app.add_typer(rulebook.schema_app, name="schema")
app.command("lint")(lint.lint_cmd)
app.command("import-scorecard")(scorecard.import_scorecard_cmd)
app.command("uscc")(uscc_cli.uscc_cmd)
# the policy lab
app.add_typer(lab.app, name="lab")
app.command("diff-impact")(lab.diff_impact_cmd)
# synthetic data and the demo
app.command("synth")(demo.synth_cmd)
app.command("demo")(demo.demo_cmd)
# the network face
app.command("serve")(serve.serve)



def _unwrapped(doc: str) -> str:
    """A docstring as help text: paragraphs kept, lines inside a paragraph joined (a
    docstring's line breaks are for the source, not for the terminal)."""
    import inspect

    text = inspect.cleandoc(doc)
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n"))


def _help_from_docstrings(t: typer.Typer) -> None:
    for info in t.registered_commands:
        if info.help is None and info.callback is not None and info.callback.__doc__:
            info.help = _unwrapped(info.callback.__doc__)
    for group in t.registered_groups:
        if group.typer_instance is not None:
            _help_from_docstrings(group.typer_instance)


_help_from_docstrings(app)

__all__ = ["app"]
