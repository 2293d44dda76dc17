"""Profile `fcra`: the US Fair Credit Reporting Act (15 U.S.C. § 1681 et seq.).

Two obligations a scoring rulebook can be checked against:
- § 605(a) (15 U.S.C. § 1681c(a)): no consumer report may contain bankruptcy cases that
  "antedate the report by more than 10 years" (a)(1), or "any other item of information
  which adverse information, other than records of convictions of crimes which antedates
  the report by more than seven years" (a)(5). In a rulebook an adverse item is a record
  that takes points off or lists; its reporting period is the rule's `expires` or the
  list's `max_duration`.
- § 609(f)(1) and § 615(a): a score disclosure and an adverse-action notice give "the
  range of possible credit scores under the model used" and "all of the key factors that
  adversely affected the credit score ..., the total number of which shall not exceed 4".
  The engine picks the four largest negative contributions; the linter checks that each
  can be named — that every record type that can count against a subject has a `label`
  — and that the scale states its range.
"""

from __future__ import annotations

from socialcredit.lint.findings import Emitter, Finding
from socialcredit.rulebook.baseline import words
from socialcredit.rulebook.loader import PathKey
from socialcredit.rulebook.model import RecordType, Rulebook

PROFILE = "fcra"
TITLE = "FCRA: reporting periods (§ 605), score range and key factors (§ 609(f), § 615)"

SEC_605_A_1 = ("FCRA § 605(a)(1), 15 U.S.C. § 1681c(a)(1): bankruptcies that antedate the "
               "report by more than 10 years may not be reported")
SEC_605_A_5 = ("FCRA § 605(a)(5), 15 U.S.C. § 1681c(a)(5): other adverse items that antedate "
               "the report by more than 7 years may not be reported")
SEC_609_F = ("FCRA § 609(f)(1), 15 U.S.C. § 1681g(f)(1): a score disclosure states the range "
             "of possible scores and up to 4 key factors that adversely affected the score")

YEAR = 365.0
ADVERSE_YEARS = 7
BANKRUPTCY_YEARS = 10
BANKRUPTCY = frozenset({"bankruptcy", "bankrupt", "insolvency", "chapter_7", "chapter_13"})
CONVICTION = frozenset({"conviction", "convictions", "criminal_conviction"})
ADVERSE_FACT = frozenset({"delinquency", "delinquent", "delinquencies", "late", "arrears",
                          "default", "collection", "collections", "charge_off", "chargeoff",
                          "judgment", "lien", "overdue", "foreclosure", "repossession",
                          "bankruptcy", "public_record", "derogatory"})


def _limit(t: RecordType | None, type_id: str) -> tuple[float, str, str] | None:
    """(limit in days, provision, code) for an adverse item of this type; None for
    convictions, which § 605(a)(5) exempts."""
    w = words(type_id, t.category if t else None, t.label if t else None)
    if w & CONVICTION:
        return None
    if w & BANKRUPTCY:
        return BANKRUPTCY_YEARS * YEAR, SEC_605_A_1, "FCRA-605-A-1"
    return ADVERSE_YEARS * YEAR, SEC_605_A_5, "FCRA-605-A-5"


def check(rb: Rulebook) -> list[Finding]:
    emit = Emitter(rb, PROFILE)
    if "person" not in rb.subjects:
        emit("FCRA-SCOPE", "info", ("subjects",), SEC_605_A_5,
             "the rulebook scores organizations only; the FCRA protects consumers")
        return emit.findings

    def period(path: PathKey, type_id: str, days: float | None, what: str,
               severity: str = "error") -> None:
        t = rb.types.get(type_id)
        lim = _limit(t, type_id)
        if lim is None:
            return
        limit, provision, code = lim
        years = int(limit // YEAR)
        if days is None:
            emit(code, "error" if severity == "error" else "warning", path, provision,
                 f"{what} on {type_id!r} has no end: adverse items are reported for at most "
                 f"{years} years")
        elif days > limit:
            emit(code, "error" if severity == "error" else "warning", path, provision,
                 f"{what} on {type_id!r} counts for {days:g} days, beyond the {years}-year "
                 f"reporting period ({limit:g} days)")

    for i, r in enumerate(rb.rules):
        if r.may_be_negative():
            period(("rules", i), r.record, r.expires, "rule")
    for i, x in enumerate(rb.lists):
        if x.kind == "black" and x.enter_when.record:
            period(("lists", i), x.enter_when.record, x.max_duration, f"list {x.id!r}")
    for i, a in enumerate(rb.attributes):
        t = rb.types.get(a.record)
        if words(a.record, a.category, t.category if t else None) & ADVERSE_FACT:
            # a fact's age is not always the item's age (a "months since" fact is
            # recomputed monthly), hence a warning rather than an error
            period(("attributes", i), a.record, a.expires, "attribute", "warning")

    if rb.scale.min is None or rb.scale.max is None:
        emit("FCRA-609-F-RANGE", "warning", ("scale",), SEC_609_F,
             "the scale has no declared min and max: a score disclosure must state the "
             "range of possible scores")
    unnamed: list[tuple[PathKey, str]] = []
    for i, r in enumerate(rb.rules):
        if r.may_be_negative():
            unnamed.append((("rules", i), r.record))
    for i, a in enumerate(rb.attributes):
        if len({b.points for b in a.bins} | {a.missing}) > 1:
            unnamed.append((("attributes", i), a.record))
    for path, type_id in unnamed:
        t = rb.types.get(type_id)
        if t is not None and not (t.label and t.label.strip()):
            emit("FCRA-609-F-KEY-FACTOR", "warning", path, SEC_609_F,
                 f"{type_id!r} can be a key factor but its record type has no `label`: the "
                 "adverse-action notice would show a bare identifier")
    return emit.findings
