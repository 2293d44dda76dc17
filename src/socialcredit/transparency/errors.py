"""The one error type of the transparency log."""

from __future__ import annotations

from socialcredit.errors import SocialCreditError


class TransparencyError(SocialCreditError):
    """A log operation that cannot proceed: no log or key yet, a range outside the
    log, a missing stored subtree. The CLI prints the message and exits non-zero."""
