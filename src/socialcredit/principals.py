"""Who acts: every operation is taken by a principal with one role.

The local command line acts as the ledger's operator unless told otherwise; the HTTP API
resolves each request to a principal. A subject principal is bound to one subject id (an
organization's legal representative to its USCC); a provider principal to one registered
provider. Authorization is by role, checked in the service layer, so that every interface
refuses the same things.
"""

from __future__ import annotations

from dataclasses import dataclass

from socialcredit.errors import SocialCreditError

ROLES = ("operator", "provider", "relying_party", "reviewer", "appeal_reviewer", "auditor",
         "subject")
#: Nobody in particular: an unauthenticated request (public lists, the public log).
#: Not a role a principal can be registered with.
PUBLIC = "public"
#: Roles whose principals are bound to a registered provider (reviewers file voids as one).
PROVIDER_BOUND = ("provider", "reviewer", "appeal_reviewer")


class Forbidden(SocialCreditError):
    """The principal's role may not do this."""

    code = "forbidden"


@dataclass(frozen=True)
class Principal:
    id: str
    role: str
    provider: str | None = None  # a provider principal acts for this registered provider
    subject: str | None = None  # a subject principal (or representative) for this subject

    def __post_init__(self) -> None:
        if self.role not in ROLES and self.role != PUBLIC:
            raise ValueError(f"unknown role {self.role!r} (roles: {', '.join(ROLES)})")

    def is_subject(self, subject: str | None) -> bool:
        """Whether this principal is the subject itself (or its representative)."""
        return self.role == "subject" and subject is not None and self.subject == subject


#: The owner of a local ledger, as the command line acts by default.
OPERATOR = Principal("operator", "operator")
#: An unauthenticated caller.
ANONYMOUS = Principal("anonymous", PUBLIC)


def require(principal: Principal, *roles: str, what: str) -> None:
    """Refuse unless the principal has one of `roles`."""
    if principal.role not in roles:
        raise Forbidden(f"{principal.role} {principal.id!r} may not {what} (only "
                        f"{' or '.join(roles)})")


__all__ = ["ANONYMOUS", "OPERATOR", "PROVIDER_BOUND", "PUBLIC", "ROLES", "Forbidden",
           "Principal", "require"]
