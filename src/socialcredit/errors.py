"""Errors users see, each with a stable code.

Every interface (CLI, HTTP API, web pages) reports the same errors: the message is in
domain words (it never names a command-line flag or an HTTP parameter, which only one
interface has), the code is stable (interfaces map it to an exit code or an HTTP status
and add their own hint), and `details` locate the problem (file, line or row, field) so
that the input can be fixed without guessing.

The table of codes is :data:`CODES`; a test checks that every code raised anywhere in
the package is listed there and documented in docs/cli.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

#: code -> what it means. Interfaces map these to exit codes / HTTP statuses.
CODES: dict[str, str] = {
    "error": "an operation failed",
    "usage": "a request that cannot be understood (a malformed option or parameter)",
    "rulebook.invalid": "a rulebook that does not load or validate",
    "rulebook.refused": "a rulebook that crosses a line the system does not cross",
    "rulebook.conflict": "a rulebook that contradicts what is already published",
    "rulebook.lint_errors": "a strict publication refused: the linter found errors",
    "catalogue.invalid": "a catalogue that does not load or validate",
    "catalogue.refused": "a catalogue that allows what the system never records or acts on",
    "catalogue.conflict": "a catalogue version already published with other content",
    "catalogue.missing": "a catalogue a rulebook cites is neither published nor shipped",
    "ledger.missing": "no ledger at that address",
    "ledger.exists": "a ledger already exists at that address",
    "ledger.outdated": "the ledger's schema is older than this release: upgrade it",
    "ledger.too_new": "the ledger's schema is newer than this release",
    "program.unknown": "no such program in the ledger",
    "program.ambiguous": "the ledger hosts several programs and none was named",
    "program.not_in_force": "no version of the program is in force at that time",
    "provider.conflict": "a provider registered again with another role",
    "provider.invalid": "a provider registration without an id or a role",
    "provider.unknown_role": "a provider registered with a role no published rulebook names",
    "ingest.unreadable": "a record source that cannot be read (encoding, format, header)",
    "ingest.rows_invalid": "records with bad rows; nothing from them was stored",
    "import.invalid": "a Parquet ledger export that is malformed or conflicts",
    "export.invalid": "an export that cannot be written where asked",
    "engine.unavailable": "a scoring engine whose runtime is not installed",
    "log.missing": "no transparency log in the database",
    "log.invalid": "a request outside the transparency log (bad range, size, key)",
    "scorecard.invalid": "a scorecard that cannot be turned into a rulebook",
    "lint.unknown_profile": "a lint profile that does not exist",
    "not_found": "a named thing that does not exist",
    "forbidden": "the principal's role may not do this",
    "database.failed": "the database could not be reached or refused a statement",
    "backup.invalid": "a backup that cannot be written, read or restored there",
    "principal.invalid": "a principal registration that is malformed (role, binding, id)",
    "principal.exists": "a principal registered twice",
    "consent.required": "a relying party asked beyond the subject's consent (no grant, or a "
                        "grant revoked, expired or for another purpose)",
    "consent.invalid": "a consent grant that is malformed (scope, purpose, expiry)",
    "case.invalid": "an objection, appeal or repair request that cannot be taken as made",
    "case.closed": "a case that is already decided (or resolved by its deadline)",
    "repair.ineligible": "credit repair not available for that record yet (or at all), or "
                         "a condition the rulebook names is missing",
    "delivery.config": "a delivery setting that cannot be used (mail server address)",
    "unauthenticated": "a request without a valid bearer token where one is needed",
    "idempotency.conflict": "an idempotency key used again for a different request",
    "request.too_large": "a request body (or batch) larger than the service accepts",
    "rate_limited": "too many requests from one principal in too short a time",
    "job.failed": "a background job that ended with an error",
    "export.not_ready": "an export whose file is not there (yet): it is running or failed",
    "database.busy": "the ledger was busy with another writer; nothing was stored (retry)",
    "database.conflict": "a concurrent write conflicted with this one; nothing was stored "
                         "(retry)",
}


def redact_url(url: str) -> str:
    """The URL with its password replaced by `***`: what messages and logs may show.

    Covers `user:password@` (up to the last `@` before the host, so a password holding
    an unescaped `@` or `/` is hidden whole) and a `password=` query parameter, which
    libpq also accepts."""
    out = re.sub(r"(://[^/:@?#\s]*:)[^?#\s]*@", r"\1***@", url, count=1)
    return re.sub(r"([?&]password=)[^&#\s]*", r"\1***", out, flags=re.IGNORECASE)


def redact_text(text: str) -> str:
    """Every URL in a message with its password hidden."""
    return re.sub(r"[A-Za-z][A-Za-z0-9+.-]*://\S+", lambda m: redact_url(m.group(0)), text)


class SocialCreditError(Exception):
    """Base class: a clean message, a stable code, and where the problem is. A database
    URL quoted in the message never carries its password (it is redacted here, once, for
    every interface)."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None,
                 details: Iterable[Mapping[str, Any]] = ()) -> None:
        message = redact_text(message)
        super().__init__(message)
        if code is not None:
            self.code = code
        if self.code not in CODES:
            raise ValueError(f"unregistered error code {self.code!r}")
        self.message = message
        self.details: list[dict[str, Any]] = [dict(d) for d in details]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class UsageError(SocialCreditError):
    """A malformed option or parameter value (an instant that does not parse, ...)."""

    code = "usage"


class RulebookError(SocialCreditError):
    """A rulebook that does not load or validate; details name file, line and field."""

    code = "rulebook.invalid"


class RefusedRulebook(SocialCreditError):
    """A rulebook that crosses one of the lines the system does not cross."""

    code = "rulebook.refused"

    def __init__(self, message: str, violations: list[str],
                 details: Iterable[Mapping[str, Any]] = (), *, code: str | None = None) -> None:
        super().__init__(message, details=details, code=code)
        self.violations = violations


class IngestError(SocialCreditError):
    """Records that cannot be stored; nothing from them was."""

    code = "ingest.rows_invalid"

    def __init__(self, message: str, problems: list[str], *, code: str | None = None,
                 details: Iterable[Mapping[str, Any]] = ()) -> None:
        super().__init__(message, code=code, details=details)
        self.problems = problems


class LedgerError(SocialCreditError):
    """A ledger operation that cannot proceed (missing ledger, unknown program, ...)."""

    code = "error"


def located(message: str, *, file: str | None = None, line: int | None = None,
            row: int | None = None, field: str | None = None) -> dict[str, Any]:
    """One detail entry: where a problem is, in the shape every interface reports."""
    out: dict[str, Any] = {"message": message}
    for key, value in (("file", file), ("line", line), ("row", row), ("field", field)):
        if value is not None:
            out[key] = value
    return out
