"""The subject's portal: my standing under each program explained record by record, a
timeline of my score, my notices, lists, cases, consent grants, who asked about me, and
my whole file to download — all from the service as the signed-in subject."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from socialcredit.errors import SocialCreditError
from socialcredit.rulebook.model import Rulebook
from socialcredit.service import Service
from socialcredit.service.cases import Attachment
from socialcredit.timeutil import days_to_us, format_instant, parse_instant
from socialcredit.web import charts, i18n

if TYPE_CHECKING:
    from socialcredit.web.app import Page

_ = i18n.gettext_
#: Samples of the score over time in the timeline chart (past and projected).
SAMPLES = 36
PROJECT_DAYS = 730


def _me(page: Page) -> Service:
    svc = page.acting()
    if svc.principal.subject is None:
        raise SocialCreditError(_("Only a subject has a portal of its own."), code="forbidden")
    return svc


def rulebooks(svc: Service) -> dict[str, Rulebook]:
    """Published rulebooks by sha256 (standings name the version they were computed
    under)."""
    return {v.sha256: v.rulebook for v in svc.programs.versions()}


def _instant(value: str | None) -> int | None:
    if not value or value.endswith("infinity"):
        return None
    return parse_instant(value)


def explain(st: dict[str, Any], rb: Rulebook | None, records: dict[str, dict[str, Any]]
            ) -> list[dict[str, Any]]:
    """Each record that counts in a standing, with who reported it, its points now and
    in full, and when it stops counting."""
    out = []
    for c in st.get("contributions", []):
        rule = rb.rules[c["rule"]] if rb is not None and c["rule"] < len(rb.rules) else None
        r = records.get(c["record_id"], {})
        occurred = _instant(c.get("occurred_at"))
        until = (format_instant(occurred + days_to_us(rule.expires))
                 if rule is not None and rule.expires is not None and occurred is not None
                 else None)
        out.append({"record_id": c["record_id"], "label": c.get("label") or c["type"],
                    "type": c["type"], "provider": r.get("provider"),
                    "occurred_at": c.get("occurred_at"), "recorded_at": r.get("recorded_at"),
                    "points": c["points"], "contribution": c["contribution"],
                    "dimension": c["dimension"], "resolved": c["resolved"],
                    "half_life": rule.half_life if rule is not None else None,
                    "until": until, "evidence": r.get("evidence"),
                    "legal_basis": r.get("legal_basis")})
    return out


def measures(rb: Rulebook | None, list_id: str) -> list[dict[str, Any]]:
    if rb is None:
        return []
    return [{"action": c.action, "effect": c.effect, "label": c.label,
             "provider": c.provider, "legal_basis": c.legal_basis}
            for c in rb.consequences if c.when.on_list == list_id]


def timeline(svc: Service, me: str, program: str, rb: Rulebook, st: dict[str, Any],
             records: list[dict[str, Any]], now: int, chart_id: str) -> dict[str, Any]:
    """The score at SAMPLES instants from before the first record to two years ahead
    (computed by the service as the subject: projections assume nothing new happens)."""
    times = [t for t in (_instant(r.get("occurred_at")) for r in records) if t is not None]
    start = min([*times, now - days_to_us(365)]) - days_to_us(30)
    end = now + days_to_us(PROJECT_DAYS)
    step = (end - start) // (SAMPLES - 1)
    instants = sorted({*(start + i * step for i in range(SAMPLES)), now})
    points = []
    for t in instants:
        try:
            s = svc.standings.of(me, program, at=t)
        except SocialCreditError:
            continue  # before the program's first version: no score to draw
        if s.applies:
            points.append((t, float(s.score)))
    periods = []
    for e in [*st.get("list_entries", []), *st.get("pending_lists", [])]:
        begin = _instant(e.get("start"))
        if begin is not None:
            x = next((x for x in rb.lists if x.id == e["list"]), None)
            periods.append(charts.Period((x.label if x and x.label else e["list"]), begin,
                                         _instant(e.get("end"))))
    scale = rb.scale
    scores = [v for _, v in points]
    low = scale.min if scale.min is not None else min([*scores, 0.0])
    high = scale.max if scale.max is not None else max([*scores, scale.base]) * 1.1
    svg = charts.timeline(
        points, now, tiers=[(t.id, t.min) for t in rb.tiers], low=low, high=high,
        periods=periods,
        title=_("Score under %(program)s over time") % {"program": program},
        desc=_("The solid line is your score so far; the dashed line is where it goes if "
               "nothing new is recorded. Shaded bands are tiers; hatched spans are list "
               "periods."),
        now_label=_("now"), tier_label=lambda t: _("tier %(tier)s") % {"tier": t},
        tick=lambda t: i18n.day(t), value=lambda v: i18n.number(v, 0), chart_id=chart_id)
    table = [{"at": format_instant(t), "score": v, "projected": t > now} for t, v in points]
    return {"svg": svg, "table": table}


def portal(page: Page) -> Response:
    svc = _me(page)
    me = svc.principal.subject
    assert me is not None
    f = svc.files.of()
    rbs = rulebooks(svc)
    records = {r["record_id"]: r for r in f["records"]}
    now = parse_instant(f["generated_at"])
    standings = []
    for i, st in enumerate(f["standings"]):
        rb = rbs.get(st["rulebook"]["sha256"])
        chart = (timeline(svc, me, st["program"], rb, st, f["records"], now, f"chart{i}")
                 if rb is not None and st.get("applies") else None)
        standings.append({"st": st, "explained": explain(st, rb, records), "chart": chart,
                          "review_days": rb.due.review_days() if rb else None})
    listings = []
    for x in f["listings"]:
        rb = next((rb for rb in rbs.values() if rb.rulebook == x["program"]
                   and any(lst.id == x["list"] for lst in rb.lists)), None)
        listings.append({**x, "measures": measures(rb, x["list"])})
    objectable = {r["record_id"] for r in f["records"] if r["kind"] in ("conduct", "fact")
                  and r["status"] in ("counting", "expired", "resolved")}
    open_cases = {c["record_id"] for c in f["cases"] if c["status"] in ("open", "filed",
                                                                           "accepted")}
    return page.render("portal.html", file=f, standings=standings, listings=listings,
                       objectable=objectable, open_cases=open_cases,
                       done=page.request.query_params.get("done", ""))


# -- objections, appeals, repair --------------------------------------------------------

def _record(f: dict[str, Any], record_id: str) -> dict[str, Any]:
    r: dict[str, Any] | None = next((r for r in f["records"]
                                     if r["record_id"] == record_id), None)
    if r is None:
        raise SocialCreditError(_("There is no such record in your file."), code="not_found")
    return r


def _notice_of(f: dict[str, Any], record_id: str) -> dict[str, Any] | None:
    return next((n for n in f["notices"] if n.get("kind") == "record"
                 and (n.get("record") or {}).get("record_id") == record_id), None)


def _attachments(page: Page) -> list[Attachment]:
    return [Attachment(name, content) for name, content in page.files("attachments")]


def _filed(page: Page, form: Callable[[Page, str | None, int], Response],
           file: Callable[[], dict[str, Any]], also: tuple[str, ...] = ()) -> Response:
    """File an objection, appeal or repair application and show it among my cases; a
    refusal the subject can mend (bad grounds, a closed window…) shows the form again
    with the reason (422)."""
    try:
        case = file()
    except SocialCreditError as e:
        if e.code in ("case.invalid", "usage", *also):
            return form(page, str(e), 422)
        raise
    return page.redirect(page.url("/me", done=case["case_id"]) + "#cases")


def object_form(page: Page, error: str | None = None, status: int = 200) -> Response:
    svc = _me(page)
    f = svc.files.of()
    rid = page.request.query_params.get("record") or page.field("record_id")
    r = _record(f, rid)
    notice = _notice_of(f, rid)
    rbs = [rb for rb in rulebooks(svc).values() if r["type"] in rb.types]
    review_days = min((rb.due.review_days() for rb in rbs), default=None)
    lists = [x for x in f["listings"] if x["record_id"] == rid]
    return page.render("object.html", status, record=r, notice=notice, lists=lists,
                       review_days=review_days, error=error, grounds=page.field("grounds"))


def object_post(page: Page) -> Response:
    svc = _me(page)
    grounds = page.field("grounds")
    if not grounds:
        return object_form(page, _("Say why the record is wrong: your grounds are "
                                   "required."), 422)
    return _filed(page, object_form, lambda: svc.cases.object(
        page.field("record_id"), grounds, list_id=page.field("list_id") or None,
        attachments=_attachments(page)))


def appeal_form(page: Page, error: str | None = None, status: int = 200) -> Response:
    svc = _me(page)
    case_id = page.request.query_params.get("case") or page.field("case_id")
    case = svc.cases.get(case_id)
    rbs = [rb for rb in rulebooks(svc).values() if case.get("program") in (None, rb.rulebook)]
    window = min((rb.due.appeal_days() for rb in rbs), default=None)
    decided = _instant(case.get("decided_at"))
    until = format_instant(decided + days_to_us(window)) if decided and window else None
    return page.render("appeal.html", status, case=case, until=until, error=error,
                       grounds=page.field("grounds"))


def appeal_post(page: Page) -> Response:
    svc = _me(page)
    grounds = page.field("grounds")
    if not grounds:
        return appeal_form(page, _("Say why the decision is wrong: your grounds are "
                                   "required."), 422)
    return _filed(page, appeal_form, lambda: svc.cases.appeal(
        page.field("case_id"), grounds, attachments=_attachments(page)))


def repair_form(page: Page, error: str | None = None, status: int = 200) -> Response:
    svc = _me(page)
    f = svc.files.of()
    rid = page.request.query_params.get("record") or page.field("record_id")
    r = _record(f, rid)
    notice = _notice_of(f, rid)
    conditions: list[str] = []
    for rb in rulebooks(svc).values():
        rp = rb.repair_period(r["type"]) if r["type"] in rb.types else None
        if rp is not None:
            conditions = list(rp.conditions)
            break
    return page.render("repair.html", status, record=r, notice=notice,
                       conditions=conditions, error=error)


def repair_post(page: Page) -> Response:
    svc = _me(page)
    conditions = {k.removeprefix("cond_"): page.field(k) for k in (page.form or {})
                  if k.startswith("cond_")}
    return _filed(page, repair_form, lambda: svc.repairs.apply(
        page.field("record_id"), conditions, statement=page.field("statement") or None,
        attachments=_attachments(page)), also=("repair.ineligible",))


# -- consent ----------------------------------------------------------------------------

def consent_post(page: Page) -> Response:
    svc = _me(page)
    expires = page.field("expires_at")
    try:
        svc.consents.grant(page.field("relying_party"), page.field("purpose"),
                           page.field("scope"),
                           expires_at=parse_instant(expires) if expires else None)
    except ValueError as e:
        raise SocialCreditError(str(e), code="usage") from None
    return page.redirect("/me#consents")


def consent_revoke(page: Page) -> Response:
    svc = _me(page)
    svc.consents.revoke(page.request.path_params["grant"])
    return page.redirect("/me#consents")


# -- the file ---------------------------------------------------------------------------

def file_html(svc: Service, page: Page) -> str:
    f = svc.files.of()
    return page.web.env.get_template("file.html").render(
        file=f, lang=page.lang, style=(Path(__file__).parent / "static" / "style.css")
        .read_text(encoding="utf-8"))


def download_html(page: Page) -> Response:
    svc = _me(page)
    body = file_html(svc, page)
    return page.finish(Response(body, media_type="text/html; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="file-{svc.principal.subject}.html"'}))


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def download_pdf(page: Page) -> Response:
    """The file as PDF: the HTML file printed by headless Chromium (when the server has
    it; otherwise a 503 that says so)."""
    svc = _me(page)
    exe = chromium()
    if exe is None:
        raise SocialCreditError(_("PDF needs Chromium on the server; download the HTML "
                                  "file and print it instead."), code="engine.unavailable")
    body = file_html(svc, page)
    with tempfile.TemporaryDirectory(prefix="sc-file-") as tmp:
        src, out = Path(tmp) / "file.html", Path(tmp) / "file.pdf"
        src.write_text(body, encoding="utf-8")
        try:
            subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu",
                            "--no-first-run", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync",
                            f"--user-data-dir={tmp}/profile", "--no-pdf-header-footer",
                            f"--print-to-pdf={out}", src.as_uri()],
                           capture_output=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            out.unlink(missing_ok=True)
        if not out.exists() or out.stat().st_size == 0:
            raise SocialCreditError(_("The PDF could not be made; download the HTML file "
                                      "instead."), code="engine.unavailable")
        pdf = out.read_bytes()
    return page.finish(Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="file-{svc.principal.subject}.pdf"'}))


ROUTES = [
    ("/me", portal, ["GET"]),
    ("/me/object", object_form, ["GET"]),
    ("/me/object", object_post, ["POST"]),
    ("/me/appeal", appeal_form, ["GET"]),
    ("/me/appeal", appeal_post, ["POST"]),
    ("/me/repair", repair_form, ["GET"]),
    ("/me/repair", repair_post, ["POST"]),
    ("/me/consents", consent_post, ["POST"]),
    ("/me/consents/{grant}/revoke", consent_revoke, ["POST"]),
    ("/me/file.html", download_html, ["GET"]),
    ("/me/file.pdf", download_pdf, ["GET"]),
]
