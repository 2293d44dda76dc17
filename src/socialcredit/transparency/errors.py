"""The one error type of the transparency log."""

from __future__ import annotations

from socialcredit.errors import SocialCreditError


class TransparencyError(SocialCreditError):
    """A log operation that cannot proceed: no log or key yet, a range outside the
    log, a missing stored subtree. Interfaces report the message with code
    `log.invalid` (or `log.missing` where there is no log at all)."""

    code = "log.invalid"
