"""Due process and the subject's rights on the command line: principals and tokens,
notices and their delivery, objections, appeals, review, repair, consent, the subject's
file, the access log, retention. Each command is one service operation, acting as the
principal `--as` names."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from socialcredit.cli.options import AsOpt, DbOpt, JsonOpt, emit_json, instant, open_service, say
from socialcredit.errors import UsageError

if TYPE_CHECKING:
    from socialcredit.service.cases import Attachment

principal_app = typer.Typer(no_args_is_help=True,
                            help="Principals (who acts, with which role) and their tokens.")
outbox_app = typer.Typer(no_args_is_help=True, help="Deliver notices (and run the deadlines).")
review_app = typer.Typer(no_args_is_help=True,
                         help="Reviewers: the queue of objections, appeals and repairs.")
repair_app = typer.Typer(no_args_is_help=True, help="Credit repair: apply, decide.")
consent_app = typer.Typer(no_args_is_help=True,
                          help="A subject's consent to relying parties: grant, list, revoke.")
retention_app = typer.Typer(no_args_is_help=True,
                            help="Erase records whose publication period has ended.")

AttachOpt = Annotated[list[Path] | None, typer.Option(
    "--attach", help="A document in support (stored by its SHA-256); repeatable.",
    show_default=False)]
SubjectArg = Annotated[str | None, typer.Argument(
    help="The subject (default: the subject acting).", show_default=False)]
GroundsOpt = Annotated[str, typer.Option("--grounds", help="Why, in your words.")]
ReasonsOpt = Annotated[str, typer.Option("--reasons", help="The reasons for the outcome.")]


def _files(paths: list[Path] | None) -> list[Attachment]:
    from socialcredit.service.cases import Attachment

    out = []
    for p in paths or []:
        if not p.is_file():
            raise UsageError(f"--attach: no such file {p}")
        out.append(Attachment(p.name, p.read_bytes()))
    return out


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for v in values or []:
        key, sep, value = v.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option}: give NAME=TEXT, not {v!r}")
        out[key.strip()] = value
    return out


def _case_line(c: dict[str, Any]) -> str:
    due = c.get("reply_due_at") if c.get("status") == "filed" else c.get("due_at")
    return (f"{c['case_id']}: {c['kind']} on record {c['record_id']} — {c['status']}"
            + (f", due {due}" if due and c["status"] in ("open", "filed", "accepted") else "")
            + (" (OVERDUE)" if c.get("overdue") else ""))


# -- principals ------------------------------------------------------------------------------

@principal_app.command("add")
def principal_add(principal: Annotated[str, typer.Argument(help="The principal's id.")],
                  role: Annotated[str, typer.Option(
                      "--role", help="operator, provider, relying_party, reviewer, "
                                     "appeal_reviewer, auditor or subject.")],
                  provider: Annotated[str | None, typer.Option(
                      "--provider", help="The registered provider a provider principal "
                                         "acts for (reviewers: default their own id).",
                      show_default=False)] = None,
                  subject: Annotated[str | None, typer.Option(
                      "--subject", help="The subject a subject principal is (or "
                                        "represents: an organization's USCC).",
                      show_default=False)] = None,
                  email: Annotated[str | None, typer.Option(
                      "--email", help="Where notices are e-mailed.", show_default=False)] = None,
                  webhook: Annotated[str | None, typer.Option(
                      "--webhook", help="Where notices are POSTed (signed).",
                      show_default=False)] = None,
                  token_days: Annotated[float, typer.Option(
                      "--token-days", help="The first token's lifetime in days.")] = 90.0,
                  db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Register a principal and print its first bearer token (shown once)."""
    with open_service(db, as_) as svc:
        p = svc.principals.add(principal, role, provider=provider, subject=subject,
                               email=email, webhook=webhook, token_days=token_days)
    if json_:
        emit_json(p)
        return
    say(f"principal {principal} ({role}) added; token (shown once): {p['token']}")
    if p["webhook_secret"]:
        say(f"webhook signing secret (shown once): {p['webhook_secret']}")


@principal_app.command("list")
def principal_list(db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """List principals, their bindings and their tokens (never the secrets)."""
    with open_service(db, as_) as svc:
        rows = svc.principals.list()
    if json_:
        emit_json(rows)
        return
    for p in rows:
        bound = p["provider"] or p["subject"] or ""
        live = sum(1 for t in p["tokens"] if t["revoked_at"] is None)
        say(f"{p['principal']}  {p['role']}  {bound}  tokens: {live}"
            + ("  REVOKED" if p["revoked_at"] else ""))


@principal_app.command("revoke")
def principal_revoke(principal: Annotated[str, typer.Argument(help="The principal's id.")],
                     db: DbOpt = None, as_: AsOpt = None) -> None:
    """Revoke a principal and every token of it, at once."""
    with open_service(db, as_) as svc:
        svc.principals.revoke(principal)
    say(f"principal {principal} revoked")


@principal_app.command("rotate")
def principal_rotate(principal: Annotated[str, typer.Argument(help="The principal's id.")],
                     token_days: Annotated[float, typer.Option(
                         "--token-days", help="The new token's lifetime in days.")] = 90.0,
                     grace_days: Annotated[float, typer.Option(
                         "--grace-days", help="How long the old tokens keep working.")] = 0.0,
                     db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Issue a new token; the old ones stop working after the grace period."""
    with open_service(db, as_) as svc:
        r = svc.principals.rotate(principal, token_days=token_days, grace_days=grace_days)
    if json_:
        emit_json(r)
        return
    say(f"new token for {principal} (shown once): {r['token']}; old tokens end "
        f"{r['old_tokens_until']}")


# -- notices and delivery ----------------------------------------------------------------------

def notices(subject: SubjectArg = None,
            alerts: Annotated[bool, typer.Option(
                "--alerts", help="The operator's alerts instead (missed deadlines, "
                                 "undeliverable notices).")] = False,
            limit: Annotated[int, typer.Option("--limit", help="How many, newest first.")]
            = 50, db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """A subject's notices (what happened, its effect, how to object), with deliveries."""
    with open_service(db, as_) as svc:
        rows = svc.notices.alerts(limit) if alerts else svc.notices.of(subject, limit)
    if json_:
        emit_json(rows)
        return
    if not rows:
        say("no notices")
    for n in rows:
        states = ", ".join(f"{d['channel']} {d['status']}" for d in n.get("deliveries", []))
        say(f"{n['created_at']}  {n['headline']}" + (f"  [{states}]" if states else ""))
        if n.get("alert"):
            say(f"    {n['alert']['message']}")


@outbox_app.command("run")
def outbox_run(smtp: Annotated[str | None, typer.Option(
                   "--smtp", envvar="SOCIALCREDIT_SMTP",
                   help="Mail server, smtp://host:port (smtp+starttls:// for STARTTLS); "
                        "without one e-mails wait.", show_default=False)] = None,
               mail_from: Annotated[str, typer.Option(
                   "--mail-from", envvar="SOCIALCREDIT_MAIL_FROM",
                   help="The notices' sender address.")] = "notices@socialcredit.invalid",
               db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Run the deadlines (listings that took effect, overdue objections and repairs), then
    deliver every notice that is due, retrying failures with backoff. Schedule it."""
    from socialcredit.service.notices import DeliveryConfig

    with open_service(db, as_) as svc:
        rep = svc.outbox.run(DeliveryConfig(smtp, mail_from))
    if json_:
        emit_json(rep)
        return
    sw = rep["swept"]
    say(f"deadlines: {sw['lapsed']} objection(s) lapsed, {sw['listings_started']} listing(s) "
        f"took effect, {sw['repair_alerts']} repair alert(s)")
    say(f"delivered {rep['delivered']}, retrying {rep['retrying']}, failed {rep['failed']}, "
        f"waiting for a mail server {rep['waiting']}")


# -- objections, appeals, review -----------------------------------------------------------------

def object_cmd(record: Annotated[str, typer.Argument(help="The record objected to.")],
               grounds: GroundsOpt,
               list_id: Annotated[str | None, typer.Option(
                   "--list", help="Only this listing of the record.", show_default=False)]
               = None,
               program: Annotated[str | None, typer.Option(
                   "--program", help="Only under this program.", show_default=False)] = None,
               attach: AttachOpt = None, db: DbOpt = None, as_: AsOpt = None,
               json_: JsonOpt = False) -> None:
    """Object to a record or its listing; in time, it suspends the listing until a
    reviewer decides (unless a court ordered the listing)."""
    with open_service(db, as_) as svc:
        c = svc.cases.object(record, grounds, program=program, list_id=list_id,
                             attachments=_files(attach))
    if json_:
        emit_json(c)
        return
    say(f"objection {c['case_id']} filed; a reviewer decides by {c['due_at']}")
    for x in c["detail"]["suspends"]:
        say(f"  listing {x['list']} ({x['program']}) suspended until then")
    for x in c["detail"]["not_suspended"]:
        why = "a court ordered it" if x["why"] == "court_ordered" else "filed after it took effect"
        say(f"  listing {x['list']} ({x['program']}) not suspended: {why}")


def appeal_cmd(case: Annotated[str, typer.Argument(help="The objection appealed.")],
               grounds: GroundsOpt, attach: AttachOpt = None, db: DbOpt = None,
               as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Appeal an objection's outcome, once, to an appeal reviewer."""
    with open_service(db, as_) as svc:
        c = svc.cases.appeal(case, grounds, attachments=_files(attach))
    if json_:
        emit_json(c)
        return
    say(f"appeal {c['case_id']} filed; an appeal reviewer decides by {c['due_at']}")


@review_app.command("queue")
def review_queue(db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Open cases with their deadlines, overdue first."""
    with open_service(db, as_) as svc:
        rows = svc.cases.queue()
    if json_:
        emit_json(rows)
        return
    if not rows:
        say("nothing to review")
    for c in rows:
        say(_case_line(c))
        if c.get("grounds"):
            say(f"    grounds: {c['grounds']}")


@review_app.command("decide")
def review_decide(case: Annotated[str, typer.Argument(help="The objection or appeal.")],
                  outcome: Annotated[str, typer.Option(
                      "--outcome", help="upheld, voided or amended.")],
                  reasons: ReasonsOpt,
                  correct: Annotated[list[str] | None, typer.Option(
                      "--correct", help="For amended: FIELD=VALUE of the corrected record "
                                        "(value, occurred_at, evidence, type); repeatable.",
                      show_default=False)] = None,
                  db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Decide an objection (reviewer) or an appeal (appeal reviewer), with reasons."""
    with open_service(db, as_) as svc:
        c = svc.cases.decide(case, outcome, reasons,
                             correction=_pairs(correct, "--correct") or None)
    if json_:
        emit_json(c)
        return
    say(_case_line(c))
    for d in c["outcome"].get("decisions_affected", []):
        say(f"  affected: {d['action']} → {d['effect']} on {d['decided_at']} "
            f"(asked by {d['requester']})")


# -- repair --------------------------------------------------------------------------------------

@repair_app.command("apply")
def repair_apply(record: Annotated[str, typer.Argument(help="The record to repair.")],
                 condition: Annotated[list[str] | None, typer.Option(
                     "--condition", help="NAME=STATEMENT for each condition the rulebook "
                                         "names (obligation_performed, commitment…); "
                                         "repeatable.", show_default=False)] = None,
                 statement: Annotated[str | None, typer.Option(
                     "--statement", help="Anything else you want the reviewer to know.",
                     show_default=False)] = None,
                 program: Annotated[str | None, typer.Option(
                     "--program", help="Under this program.", show_default=False)] = None,
                 attach: AttachOpt = None, db: DbOpt = None, as_: AsOpt = None,
                 json_: JsonOpt = False) -> None:
    """Apply (free of charge) to end a record's publication and listings early."""
    with open_service(db, as_) as svc:
        c = svc.repairs.apply(record, _pairs(condition, "--condition"), program=program,
                              statement=statement, attachments=_files(attach))
    if json_:
        emit_json(c)
        return
    say(f"repair application {c['case_id']} filed; reply due by {c['reply_due_at']}")


@repair_app.command("decide")
def repair_decide(case: Annotated[str, typer.Argument(help="The repair application.")],
                  outcome: Annotated[str, typer.Option(
                      "--outcome", help="accepted (the reply), granted or refused.")],
                  reasons: ReasonsOpt, db: DbOpt = None, as_: AsOpt = None,
                  json_: JsonOpt = False) -> None:
    """Reply to or decide a repair application (reviewer), with reasons."""
    with open_service(db, as_) as svc:
        c = svc.repairs.decide(case, outcome, reasons)
    if json_:
        emit_json(c)
        return
    say(_case_line(c))


# -- consent, the file, the access log -------------------------------------------------------------

@consent_app.command("grant")
def consent_grant(relying_party: Annotated[str, typer.Argument(help="Who may ask.")],
                  purpose: Annotated[str, typer.Option("--purpose", help="For what.")],
                  scope: Annotated[str, typer.Option(
                      "--scope", help="effect, tier, score or explanation.")],
                  subject: Annotated[str | None, typer.Option(
                      "--subject", help="Whose consent (default: the subject acting).",
                      show_default=False)] = None,
                  until: Annotated[str | None, typer.Option(
                      "--until", help="When it expires (default: when revoked).",
                      show_default=False)] = None,
                  db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Let a relying party ask about you, for one purpose, within one scope."""
    with open_service(db, as_) as svc:
        g = svc.consents.grant(relying_party, purpose, scope, subject=subject,
                               expires_at=instant(until, "--until"))
    if json_:
        emit_json(g)
        return
    say(f"consent {g['grant_id']}: {relying_party} may see {scope} for {purpose!r} until "
        f"{g['expires_at'] or 'revoked'}")


@consent_app.command("list")
def consent_list(subject: Annotated[str | None, typer.Option(
                     "--subject", help="Whose grants (default: the subject acting).",
                     show_default=False)] = None,
                 db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """A subject's grants (a relying party: those given to it)."""
    with open_service(db, as_) as svc:
        rows = svc.consents.list(subject)
    if json_:
        emit_json(rows)
        return
    if not rows:
        say("no consent grants")
    for g in rows:
        say(f"{g['grant_id']}  {g['subject']} → {g['relying_party']}  {g['scope']}  "
            f"{g['purpose']!r}  {'active' if g['active'] else 'inactive'}")


@consent_app.command("revoke")
def consent_revoke(grant: Annotated[str, typer.Argument(help="The grant id.")],
                   db: DbOpt = None, as_: AsOpt = None) -> None:
    """Revoke a grant, at once."""
    with open_service(db, as_) as svc:
        svc.consents.revoke(grant)
    say(f"consent {grant} revoked")


def file_cmd(subject: SubjectArg = None,
             html: Annotated[bool, typer.Option(
                 "--html", help="A self-contained HTML report instead.")] = False,
             db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Everything about a subject: records, standings, lists, decisions and who asked,
    notices, cases, consent, erasures, its log leaves with proofs."""
    if html and json_:
        raise UsageError("give --html or --json, not both")
    with open_service(db, as_) as svc:
        if html:
            typer.echo(svc.files.html(subject), nl=False)
            return
        f = svc.files.of(subject)
    if json_:
        emit_json(f)
        return
    say(f"file of {f['subject']} ({f['subject_kind']}), {f['generated_at']}")
    for st in f["standings"]:
        say(f"  {st['program']}: score {st['score']:.2f}, tier {st['tier'] or '-'}, lists "
            f"{', '.join(st['lists']) or 'none'}")
    say(f"  {len(f['records'])} record(s), {len(f['erased_records'])} erased, "
        f"{len(f['listings'])} listing(s), {len(f['decisions'])} decision(s), "
        f"{len(f['access_log'])} read(s) by others, {len(f['notices'])} notice(s), "
        f"{len(f['cases'])} case(s), {len(f['consents'])} consent grant(s), "
        f"{len(f['log'].get('leaves', []))} log leaf(ves)")
    say("  (the whole file: --json or --html)")


def access_log_cmd(subject: SubjectArg = None, db: DbOpt = None, as_: AsOpt = None,
                   json_: JsonOpt = False) -> None:
    """Who read a subject's standings and decisions: when, why, under which grant."""
    with open_service(db, as_) as svc:
        rows = svc.access.of(subject)
    if json_:
        emit_json(rows)
        return
    if not rows:
        say("nobody but the subject")
    for a in rows:
        say(f"{a['at']}  {a['principal']} ({a['role']})  {a['operation']}"
            + (f"  purpose {a['purpose']!r}" if a["purpose"] else "")
            + ("  (a whole population)" if a["population"] else ""))


@retention_app.command("run")
def retention_run(db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Erase the personal data of records past their publication period that nothing
    needs (tombstones keep their hashes; the log records each erasure). Schedule it."""
    with open_service(db, as_) as svc:
        rep = svc.retention.run()
    if json_:
        emit_json(rep)
        return
    say(f"erased {rep['erased']} record(s) at {rep['at']}")


__all__ = ["access_log_cmd", "appeal_cmd", "consent_app", "file_cmd", "notices",
           "object_cmd", "outbox_app", "principal_app", "repair_app", "retention_app",
           "review_app"]
