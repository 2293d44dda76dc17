"""Profile `cn-credit-repair-2026`: publication periods and credit repair by severity.

The NDRC's credit-repair measures (Measures for the Administration of Credit Repair,
in force 1 April 2026) grade
dishonesty information by severity and bound how long each grade is published:
minor information is not published (or for at most 3 months); general information for
at least 3 months and at most 1 year; serious information for at least 1 year and at
most 3 years. After the minimum, once the conduct is corrected, the subject may apply for
repair with a public commitment; publication stops automatically after the maximum.
Replies come within 10 working days, decisions within 3, and repair is free.

In a rulebook a record type's `severity` is the grade; a rule's `expires` and a list's
`max_duration` are the publication period; `due_process.repair` says when a subject may
apply for repair (`after`, per record type or severity) and how fast a reviewer replies
and decides (`reply_within`, `decide_within`, in working days). Calendar months vary, so
"3 months" is accepted as 89–92 days and a year as 365–366 days.
"""

from __future__ import annotations

from socialcredit.lint.findings import Emitter, Finding
from socialcredit.rulebook.loader import PathKey
from socialcredit.rulebook.model import Rulebook

PROFILE = "cn-credit-repair-2026"
TITLE = "NDRC credit-repair measures (2026): publication periods and repair by severity"

MEASURES = "NDRC credit-repair measures (in force 1 Apr 2026)"
PERIODS_PROVISION = (f"{MEASURES}: minor information not published or ≤ 3 months; general "
                     "≥ 3 months and ≤ 1 year; serious ≥ 1 year and ≤ 3 years")
REPAIR_PROVISION = (f"{MEASURES}: after the minimum period, once corrected, the subject may "
                    "apply for repair (free; decision within 3 working days)")
MINOR_PROVISION = f"{MEASURES}: minor dishonesty information is, in principle, not published"

# (minimum, maximum) publication in days, with calendar slack.
PERIODS: dict[str, tuple[float, float]] = {
    "minor": (0.0, 92.0),
    "general": (89.0, 366.0),
    "serious": (365.0, 3 * 365.0 + 1.0),
}
WORDS = {"minor": "at most 3 months", "general": "3 months to 1 year",
         "serious": "1 to 3 years"}
# The longest a rulebook may make a subject wait before applying for repair: the minimum
# publication period of the grade (with calendar slack).
REPAIR_AFTER_MAX: dict[str, float] = {"minor": 0.0, "general": 92.0, "serious": 366.0}
REPLY_DAYS, DECIDE_DAYS = 10, 3
DEADLINES_PROVISION = (f"{MEASURES}: a reply within {REPLY_DAYS} working days, a decision "
                       f"within {DECIDE_DAYS} working days, free of charge")


def check(rb: Rulebook) -> list[Finding]:
    emit = Emitter(rb, PROFILE)
    negative = False

    def period(path: PathKey, type_id: str, days: float | None, what: str) -> None:
        t = rb.types.get(type_id)
        sev = t.severity if t else None
        if sev is None:
            emit("CN-SEVERITY", "warning", path, PERIODS_PROVISION,
                 f"{what} on {type_id!r}: the record type declares no `severity` (minor, "
                 "general, serious), so its publication period cannot be checked")
            return
        lo, hi = PERIODS[sev]
        if days is None:
            emit("CN-PERIOD-MAX", "error", path, PERIODS_PROVISION,
                 f"{what} on {sev} record {type_id!r} never ends: publication stops "
                 f"automatically after {WORDS[sev]}")
        elif days > hi:
            emit("CN-PERIOD-MAX", "error", path, PERIODS_PROVISION,
                 f"{what} on {sev} record {type_id!r} lasts {days:g} days, beyond the "
                 f"maximum for {sev} information ({WORDS[sev]})")
        elif days < lo:
            emit("CN-PERIOD-MIN", "info", path, PERIODS_PROVISION,
                 f"{what} on {sev} record {type_id!r} lasts {days:g} days, less than the "
                 f"minimum publication for {sev} information ({WORDS[sev]}): more lenient "
                 "than the measures")

    for i, r in enumerate(rb.rules):
        if not r.may_be_negative():
            continue
        negative = True
        period(("rules", i), r.record, r.expires, "rule")
        t = rb.types.get(r.record)
        if t is not None and t.severity in ("general", "serious") and r.resolved_points is None:
            emit("CN-REPAIR-CORRECTION", "info", ("rules", i), REPAIR_PROVISION,
                 f"correcting {r.record!r} does not change its points before they expire "
                 "(no `resolved_points`): repair goes through a reviewer's void only")
    for i, x in enumerate(rb.lists):
        if x.kind != "black":
            continue
        negative = True
        if x.enter_when.record is None:
            continue  # score lists end when the score recovers; no record to grade
        period(("lists", i), x.enter_when.record, x.max_duration, f"list {x.id!r}")
        t = rb.types.get(x.enter_when.record)
        if x.public and t is not None and t.severity == "minor":
            emit("CN-MINOR-PUBLIC", "warning", ("lists", i), MINOR_PROVISION,
                 f"public list {x.id!r} publishes minor record {t.id!r}")
    _repair(rb, emit)
    if negative and not any(t.kind == "void" and "reviewer" in t.providers
                            for t in rb.record_types):
        emit("CN-REPAIR", "warning", ("record_types",), REPAIR_PROVISION,
             "no void record type submitted by reviewers: a repair decision has no way to "
             "withdraw the published information")
    return emit.findings


def _repair(rb: Rulebook, emit: Emitter) -> None:
    """Repair periods no longer than the minimum publication, answers within the
    measures' working days, and a repair route for general and serious information."""
    repair = rb.due.repair
    if repair is not None:
        for field, limit in (("reply_within", REPLY_DAYS), ("decide_within", DECIDE_DAYS)):
            days = getattr(repair, field)
            if days is not None and days > limit:
                emit("CN-REPAIR-DEADLINE", "error", ("due_process", "repair", field),
                     DEADLINES_PROVISION, f"repair {field.replace('_', ' ')} {days} working "
                     f"days, beyond the measures' {limit}")
        for i, rp in enumerate(repair.periods):
            grades = [rp.severity] if rp.severity else [
                t.severity for t in rb.record_types if t.id == rp.record and t.severity]
            for sev in grades:
                if rp.after > REPAIR_AFTER_MAX[sev]:
                    emit("CN-REPAIR-PERIOD", "error",
                         ("due_process", "repair", "periods", i), REPAIR_PROVISION,
                         f"repair of {sev} information only after {rp.after:g} days: the "
                         f"subject may apply once the minimum publication ({WORDS[sev]}) "
                         "has passed")
    for i, t in enumerate(rb.record_types):
        if t.severity in ("general", "serious") and rb.is_negative(t.id) and \
                rb.repair_period(t.id) is None:
            emit("CN-REPAIR-ROUTE", "info", ("record_types", i), REPAIR_PROVISION,
                 f"no repair period for {t.severity} record {t.id!r}: a subject can only "
                 "wait for the maximum period or object (due_process.repair.periods)")
