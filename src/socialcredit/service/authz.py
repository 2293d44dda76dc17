"""Who may do what: the one table every service operation checks.

Each operation names the roles allowed; a subject principal acts only on its own subject
(an organization's representative: on its USCC), a provider principal only for its
provider. The command line, the HTTP API and the web pages call the same operations, so
they refuse the same things. docs/due-process.md prints this table;
tests/service/test_authorization.py drives every role through every operation.
"""

from __future__ import annotations

from dataclasses import dataclass

from socialcredit.principals import PUBLIC, ROLES, Forbidden, Principal, require

EVERYONE = (*ROLES, PUBLIC)
READERS = ("operator", "auditor")
REVIEWERS = ("reviewer", "appeal_reviewer")


@dataclass(frozen=True)
class Permission:
    roles: tuple[str, ...]
    what: str


OPERATIONS: dict[str, Permission] = {
    # ledgers and programs
    "programs.publish": Permission(("operator",), "publish a rulebook"),
    "programs.read": Permission(EVERYONE, "read the published rulebooks"),
    "catalogues.publish": Permission(("operator",), "publish a catalogue"),
    "catalogues.read": Permission(EVERYONE, "read the published catalogues"),
    "providers.add": Permission(("operator",), "register a provider"),
    "providers.list": Permission(READERS, "list providers"),
    "records.ingest": Permission(("operator", "provider", *REVIEWERS), "submit records"),
    "records.backfill": Permission(("operator",), "backfill a pilot's history"),
    "records.history": Permission(("operator", "auditor", "provider", *REVIEWERS),
                                  "read submissions of records (a provider: its own)"),
    # standings and decisions (relying parties: within a consent grant or a public list)
    "standings.read": Permission(("operator", "auditor", *REVIEWERS, "subject",
                                  "relying_party"), "read a standing"),
    "standings.all": Permission(READERS, "read every standing of a program"),
    "decisions.decide": Permission(("operator", "relying_party", "subject"),
                                   "ask for a decision"),
    "decisions.log": Permission(("operator", "auditor", "subject", "relying_party"),
                                "read the decision log"),
    "decisions.seal": Permission(("operator",), "seal decisions into the public log"),
    "population.score": Permission(("operator",), "score a whole population"),
    "population.export": Permission(("operator",), "export the ledger"),
    "population.import": Permission(("operator",), "import a ledger"),
    "jobs.read": Permission(READERS, "read background jobs and their progress"),
    "exports.run": Permission(("operator",), "start an export (the ledger, the log, a "
                                             "subject's file)"),
    "exports.read": Permission(("operator",), "follow and download exports"),
    # public lists (courts' defaulter lists are public by law) and organizations' names
    "lists.public": Permission(EVERYONE, "look up public lists"),
    "organizations.name": Permission(("operator",), "register an organization's name"),
    # the public log
    "log.read": Permission(EVERYONE, "read the public log"),
    "log.mine": Permission(("subject", "operator"), "read a subject's own log leaves"),
    # principals
    "principals.manage": Permission(("operator",), "manage principals and tokens"),
    # notices and their delivery
    "notices.read": Permission(("subject", "operator"), "read a subject's notices"),
    "alerts.read": Permission(("operator",), "read the operator's alerts"),
    "outbox.run": Permission(("operator",), "run the outbox and the deadlines"),
    # objections, appeals, repair
    "cases.object": Permission(("subject", "operator"), "object to a record or listing"),
    "cases.appeal": Permission(("subject", "operator"), "appeal an objection's outcome"),
    "cases.read": Permission(("subject", "operator", "auditor", *REVIEWERS), "read a case"),
    "cases.queue": Permission(("operator", "auditor", *REVIEWERS), "read the review queue"),
    "cases.decide": Permission(REVIEWERS, "decide an objection or an appeal"),
    "repair.apply": Permission(("subject", "operator"), "apply for credit repair"),
    "repair.decide": Permission(("reviewer",), "decide a repair application"),
    # consent
    "consent.grant": Permission(("subject", "operator"), "grant consent"),
    "consent.list": Permission(("subject", "operator", "relying_party"), "list consent grants"),
    "consent.revoke": Permission(("subject", "operator"), "revoke consent"),
    # the subject's file, the access log, retention
    "file.read": Permission(("subject", "operator"), "read a subject's file"),
    "access_log.read": Permission(("subject", "operator", "auditor"),
                                  "read a subject's access log"),
    "retention.run": Permission(("operator",), "run retention"),
    # the running service
    "metrics.read": Permission(READERS, "read the service's metrics"),
}


def authorize(principal: Principal, operation: str, subject: str | None = None) -> None:
    """Refuse unless the principal's role may take `operation`, and — for a subject
    principal — `subject` is its own."""
    perm = OPERATIONS[operation]
    if principal.role not in perm.roles:  # (checked first: every decision asks)
        require(principal, *perm.roles, what=perm.what)
    if principal.role == "subject" and subject is not None and subject != principal.subject:
        raise Forbidden(f"subject {principal.id!r} may not {perm.what} of another subject")


def subject_of(principal: Principal, subject: str | None, what: str) -> str:
    """The subject an operation is about: given, or the acting subject's own."""
    if subject is not None:
        return subject
    if principal.role == "subject" and principal.subject is not None:
        return principal.subject
    from socialcredit.errors import UsageError

    raise UsageError(f"name the subject whose {what} to read")


__all__ = ["EVERYONE", "OPERATIONS", "Permission", "authorize", "subject_of"]
