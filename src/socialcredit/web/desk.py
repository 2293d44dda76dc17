"""The review desk: open objections, appeals and repair applications for the signed-in
reviewer, overdue first, each with its deadline clock, the record, the evidence, the
subject's grounds and attachments, and one-click outcomes that require reasons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from socialcredit.errors import SocialCreditError
from socialcredit.timeutil import parse_instant
from socialcredit.web import i18n

if TYPE_CHECKING:
    from socialcredit.web.app import Page

_ = i18n.gettext_
OUTCOMES = {"objection": ("upheld", "voided"), "appeal": ("upheld", "voided"),
            "repair": ("accepted", "granted", "refused")}


def clock(deadline: str | None, now: int) -> dict[str, Any] | None:
    """Time left (or overdue by) in whole days and hours."""
    if not deadline:
        return None
    left = parse_instant(deadline) - now
    hours = abs(left) // 3_600_000_000
    return {"overdue": left <= 0, "days": hours // 24, "hours": hours % 24,
            "at": deadline}


def queue(page: Page, error: str | None = None, status: int = 200,
          failed: str | None = None) -> Response:
    svc = page.acting()
    items = svc.cases.queue()
    now = svc.now()
    for c in items:
        deadline = c.get("reply_due_at") if c["kind"] == "repair" and \
            c["status"] == "filed" else c.get("due_at")
        c["clock"] = clock(deadline, now)
        outcomes = OUTCOMES.get(c["kind"], ())
        if c["kind"] == "repair" and c["status"] == "accepted":
            outcomes = ("granted", "refused")
        c["outcomes"] = outcomes
    return page.render("desk.html", status, items=items, error=error, failed=failed,
                       done=page.request.query_params.get("done", ""))


def decide(page: Page) -> Response:
    svc = page.acting()
    case_id = page.request.path_params["case"]
    outcome, reasons = page.field("outcome"), page.field("reasons")
    if not reasons:
        return queue(page, _("An outcome needs its reasons: write them before choosing."),
                     422, failed=case_id)
    try:
        kind = svc.cases.get(case_id).get("kind")
        if kind == "repair":
            svc.repairs.decide(case_id, outcome, reasons)
        else:
            svc.cases.decide(case_id, outcome, reasons)
    except SocialCreditError as e:
        if e.code in ("case.invalid", "case.closed"):
            return queue(page, str(e), 422 if e.code == "case.invalid" else 409,
                         failed=case_id)
        raise
    return page.redirect(page.url("/review", done=case_id))


ROUTES = [
    ("/review", queue, ["GET"]),
    ("/review/{case}", decide, ["POST"]),
]
