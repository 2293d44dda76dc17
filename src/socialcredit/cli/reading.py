"""Reading standings and asking for decisions."""

from __future__ import annotations

from typing import Annotated

import typer

from socialcredit.cli.options import (
    AsOpt,
    AtOpt,
    DbOpt,
    JsonOpt,
    KnownAtOpt,
    ProgramOpt,
    emit_json,
    instant,
    open_service,
    out,
    say,
)

PurposeOpt = Annotated[str | None, typer.Option(
    "--purpose", help="Why a relying party asks (it must match its consent grant's).",
    show_default=False)]
GrantOpt = Annotated[str | None, typer.Option(
    "--grant", help="The consent grant a relying party asks under (default: its one "
                    "active grant for the purpose).", show_default=False)]


def standing(subject: Annotated[str, typer.Argument(help="The subject's id.")],
             program: ProgramOpt = None, at: AtOpt = None, known_at: KnownAtOpt = None,
             purpose: PurposeOpt = None, grant: GrantOpt = None,
             db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """A subject's standing, explained record by record (a relying party sees what its
    consent grant allows; anyone but the subject is in the subject's access log)."""
    with open_service(db, as_) as svc:
        if svc.principal.role == "relying_party":
            emit_json(svc.standings.view(subject, program, instant(at, "--at"),
                                         instant(known_at, "--known-at"), purpose=purpose,
                                         grant=grant))
            return
        st = svc.standings.of(subject, program, instant(at, "--at"),
                              instant(known_at, "--known-at"))
    if json_:
        emit_json(st.as_dict())
        return
    from socialcredit.cli.render import render_standing

    render_standing(out(), st)


def check(subject: Annotated[str, typer.Argument(help="The subject's id.")],
          action: Annotated[str, typer.Argument(help="The action asked for, e.g. "
                                                "rail.g_train_ticket.")],
          program: ProgramOpt = None, at: AtOpt = None,
          materialized: Annotated[bool, typer.Option(
              "--materialized", help="Read the standing from the materialized table "
                                     "(`score --all`; kept current on ingest).")] = False,
          purpose: PurposeOpt = None, grant: GrantOpt = None,
          db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """May SUBJECT do ACTION, and on what terms? Logged in the decision log, with who
    asked and why; a relying party needs the subject's consent unless the action depends
    on public lists only, and sees what its grant allows."""
    with open_service(db, as_) as svc:
        d = svc.decisions.decide(subject, action, program, instant(at, "--at"),
                                 materialized=materialized, purpose=purpose, grant=grant)
    if json_ or d.disclosed is not None:
        emit_json(d.as_dict())
        return
    from socialcredit.cli.render import render_decision

    render_decision(out(), d)


def decisions(subject: Annotated[str | None, typer.Argument(
                  help="Whose decisions (default: every subject's).")] = None,
              limit: Annotated[int, typer.Option(
                  "--limit", help="How many of the newest decisions to show.")] = 20,
              db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Read the decision log (a subject reads the decisions about itself)."""
    with open_service(db, as_) as svc:
        rows = svc.decisions.log(subject, limit)
    if json_:
        emit_json(rows)
        return
    from rich.table import Table

    table = Table("decided at", "for time", "subject", "action", "effect", "program",
                  "decision id")
    for r in rows:
        at = r["at"] + (" (hypothetical)" if r.get("hypothetical") else "")
        table.add_row(r["decided_at"], at, r["subject"], r["action"], r["effect"],
                      f"{r['rulebook']['id']} {r['rulebook']['version']}", r["decision_id"])
    out().print(table)


def seal_decisions(db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Commit the decisions made since the last seal to the public log (a digest per
    program; no personal data). Run it on a schedule, e.g. hourly."""
    with open_service(db, as_) as svc:
        sealed = svc.decisions.seal()
    if json_:
        emit_json(sealed)
        return
    if not sealed:
        say("no new decisions to seal")
    for b in sealed:
        say(f"sealed {b['count']} decision(s) of {b['program']}: sha256 {b['digest']}")


__all__ = ["check", "decisions", "seal_decisions", "standing"]
