"""The operator's dashboard: tiers and listings over time, ingest and rejections per
provider, the outbox's backlog and failed deliveries, the linter's findings on the
rulebooks in force, and the last `score --all` run. Each panel is one service read as
the signed-in principal; a panel its role may not read says so instead."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from starlette.responses import Response

from socialcredit.errors import SocialCreditError
from socialcredit.principals import Forbidden
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from socialcredit.web import charts, i18n

if TYPE_CHECKING:
    from socialcredit.web.app import Page

_ = i18n.gettext_
T = TypeVar("T")


def _may(read: Callable[[], T]) -> T | None:
    """A panel's data, or None when the principal's role may not read it."""
    try:
        return read()
    except Forbidden:
        return None


def _instant(value: str | None) -> int | None:
    if not value or value.endswith("infinity"):
        return None
    return parse_instant(value)


#: Above this many materialized subjects the dashboard reads the tier counts from the
#: materialized table in one statement instead of scoring every subject live, and draws
#: no listings-over-time chart (which needs every subject's list periods).
LIVE_LIMIT = 20_000


def population(svc: Service, program: str) -> dict[str, Any]:
    """Tier counts now and the number of listings in force over time — ended ones
    included, as the ledger knows them now — from every standing of the program (one
    population read, logged as such); or, for a large population, the tier counts of
    the materialized table."""
    counts = svc.standings.tier_counts(program)
    if counts is not None and counts["subjects"] > LIVE_LIMIT:
        return _drawn(svc, program, Counter(counts["tiers"]), [], counts["subjects"],
                      counts["listings"])
    standings, periods = svc.standings.with_listing_history(program)
    tiers = Counter(s.tier or "—" for s in standings if s.applies)
    points = listing_steps(periods, standings[0].at) if standings else []
    return _drawn(svc, program, tiers, points, len(standings),
                  int(points[-1][1]) if points else 0)


def listing_steps(periods: list[tuple[int, int | None]], now: int
                  ) -> list[tuple[int, float]]:
    """How many listings were in force from each instant a count changed, and now."""
    changes: Counter[int] = Counter()
    for start, end in periods:
        changes[start] += 1
        if end is not None:
            changes[end] -= 1
    points: list[tuple[int, float]] = []
    level = 0.0
    for t in sorted(changes):
        level += changes[t]
        points.append((t, level))
    if points:
        points.append((now, level))
    return points


def _drawn(svc: Service, program: str, tiers: Counter[str], points: list[tuple[int, float]],
           subjects: int, listings_now: int) -> dict[str, Any]:
    order = {tier: i for i, tier in enumerate(
        t.id for t in sorted(svc.programs.versions(program)[-1].rulebook.tiers,
                             key=lambda t: -t.min))}
    dist = sorted(tiers.items(), key=lambda kv: order.get(kv[0], 99))
    return {
        "subjects": subjects, "tiers": dist,
        "tier_svg": charts.bars(
            [(_("tier %(tier)s") % {"tier": k}, float(v)) for k, v in dist],
            title=_("Subjects by tier under %(program)s") % {"program": program},
            desc=_("How many subjects are in each tier now."),
            value=lambda v: i18n.number(v, 0), chart_id=f"tiers-{program}"),
        "listings_svg": charts.steps(
            points, title=_("Listings in force over time under %(program)s")
            % {"program": program},
            desc=_("How many listings were in force at each moment."),
            tick=lambda t: i18n.day(t), value=lambda v: i18n.number(v, 0),
            chart_id=f"listings-{program}") if points else None,
        "listings_now": listings_now}


def providers(svc: Service) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for s in svc.submissions.history(limit=500):
        p = rows.setdefault(s["provider"] or "—", {"provider": s["provider"] or "—",
                                                   "submissions": 0, "rows": 0,
                                                   "accepted": 0, "duplicates": 0,
                                                   "rejected": 0})
        p["submissions"] += 1
        p["rows"] += s["rows"]
        p["accepted"] += s["accepted"]
        p["duplicates"] += s["duplicates"]
        p["rejected"] += max(0, s["rows"] - s["accepted"] - s["duplicates"])
    for p in rows.values():
        p["rejection_rate"] = p["rejected"] / p["rows"] if p["rows"] else None
    return sorted(rows.values(), key=lambda p: str(p["provider"]))


def lint(svc: Service) -> list[dict[str, Any]]:
    latest: dict[str, Any] = {}
    now = svc.now()
    for v in svc.programs.versions():
        if v.effective_at <= now:
            latest[v.program] = v
    out = []
    for name, v in sorted(latest.items()):
        report = svc.programs.review(v.rulebook).report.as_dict()
        out.append({"program": name, "version": v.version, "counts": report["counts"],
                    "findings": report["findings"]})
    return out


def dashboard(page: Page) -> Response:
    svc = page.acting()
    if svc.principal.role not in ("operator", "auditor"):
        raise Forbidden(_("The dashboard is for operators and auditors."))
    programs = svc.programs.names()
    pops = {p: _may(lambda p=p: population(svc, p)) for p in programs}  # type: ignore[misc]
    jobs = _may(lambda: svc.jobs.list(100)) or []
    last_score = next((j for j in jobs if j["kind"] == "score"), None)
    alerts = _may(lambda: svc.notices.alerts(100))
    failed = [a for a in alerts or [] if (a.get("alert") or {}).get("alert")
              == "notice.undeliverable"]
    try:
        lint_rows: list[dict[str, Any]] | None = lint(svc)
    except SocialCreditError:
        lint_rows = None
    return page.render("dashboard.html", programs=programs, pops=pops,
                       providers=_may(lambda: providers(svc)),
                       outbox=_may(svc.outbox.status), alerts=alerts, failed=failed,
                       lint=lint_rows, last_score=last_score)


ROUTES = [("/operator", dashboard, ["GET"])]
