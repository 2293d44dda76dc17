"""Errors users see. Each carries enough location to fix the input without guessing."""

from __future__ import annotations


class SocialCreditError(Exception):
    """Base class: anything the CLI reports as a clean message with a non-zero exit."""


class RulebookError(SocialCreditError):
    """A rulebook that does not load or validate; the message names file, line and field."""


class RefusedRulebook(SocialCreditError):
    """A rulebook that crosses one of the lines the system does not cross."""

    def __init__(self, message: str, violations: list[str]) -> None:
        super().__init__(message)
        self.violations = violations


class IngestError(SocialCreditError):
    """A record file with bad rows; nothing from it was stored."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class LedgerError(SocialCreditError):
    """A ledger operation that cannot proceed (missing ledger, unknown program, ...)."""
