"""Profile `gdpr`: Regulation (EU) 2016/679 — special categories, automated decisions,
storage limitation.

Three questions a data-protection officer asks of any scoring scheme:
- Art. 9(1): does it process "personal data revealing racial or ethnic origin, political
  opinions, religious or philosophical beliefs, or trade union membership, and ...
  genetic data, biometric data for the purpose of uniquely identifying a natural person,
  data concerning health or data concerning a natural person's sex life or sexual
  orientation"? Collecting such data is already processing, so a record type that is
  declared but scored nowhere is reported too (as a warning).
- Art. 22(1) and (3): a decision "based solely on automated processing ... which produces
  legal effects ... or similarly significantly affects" the subject needs "at least the
  right to obtain human intervention ..., to express his or her point of view and to
  contest the decision". In a rulebook a deny is such a decision; the human path is a
  void record type that only reviewers may submit.
- Art. 5(1)(e): data "kept in a form which permits identification of data subjects for no
  longer than is necessary": every rule, attribute and record-entered list should say
  when its records stop counting (`expires`, `max_duration`).
"""

from __future__ import annotations

from socialcredit.lint.findings import Emitter, Finding
from socialcredit.lint.triggers import protected_categories
from socialcredit.rulebook.baseline import words
from socialcredit.rulebook.loader import PathKey
from socialcredit.rulebook.model import Rulebook

PROFILE = "gdpr"
TITLE = "GDPR: Art. 9 special categories, Art. 22 automated decisions, Art. 5(1)(e) retention"

ART_9 = ("GDPR Art. 9(1): processing of special categories of personal data (racial or "
         "ethnic origin, political opinions, religious or philosophical beliefs, trade union "
         "membership, genetic, biometric, health, sex life or sexual orientation) is "
         "prohibited")
ART_10 = ("GDPR Art. 10: personal data relating to criminal convictions and offences only "
          "under the control of official authority or when authorised by law")
ART_22 = ("GDPR Art. 22(1), (3): a decision based solely on automated processing with "
          "significant effects needs \"the right to obtain human intervention ..., to "
          "express his or her point of view and to contest the decision\"")
ART_5_1_E = ("GDPR Art. 5(1)(e): storage limitation — kept \"for no longer than is "
             "necessary for the purposes for which the personal data are processed\"")
RECITAL_14 = ("GDPR Art. 1(1) and Recital 14: the Regulation protects natural persons, not "
              "legal persons")

# The baseline's protected categories that Art. 9(1) lists (national origin, assembly,
# sex and family status are protected by the baseline, not by Art. 9).
ART_9_CATEGORIES = frozenset({
    "racial or ethnic origin", "political opinion or expression", "religion or belief",
    "trade-union membership", "genetic or biometric data", "health",
    "sex life or sexual orientation",
})
CRIMINAL = frozenset({"criminal", "crime", "conviction", "convictions", "offence", "offences",
                      "offense", "offenses"})


def check(rb: Rulebook) -> list[Finding]:
    emit = Emitter(rb, PROFILE)
    if "person" not in rb.subjects:
        emit("GDPR-SCOPE", "info", ("subjects",), RECITAL_14,
             "the rulebook scores organizations only; the GDPR applies where records "
             "identify natural persons (sole traders, legal representatives)")
        return emit.findings
    _special_categories(rb, emit)
    _automated_decisions(rb, emit)
    _retention(rb, emit)
    return emit.findings


def _special_categories(rb: Rulebook, emit: Emitter) -> None:
    uses: dict[str, list[tuple[PathKey, str | None]]] = {}
    for i, r in enumerate(rb.rules):
        uses.setdefault(r.record, []).append((("rules", i), None))
    for i, a in enumerate(rb.attributes):
        uses.setdefault(a.record, []).append((("attributes", i), a.category))
    for i, x in enumerate(rb.lists):
        if x.enter_when.record:
            uses.setdefault(x.enter_when.record, []).append((("lists", i), None))
    for ti, t in enumerate(rb.record_types):
        base = protected_categories(t.category, t.id, t.label)
        used = uses.get(t.id, [])
        for path, extra in used:
            cats = [c for c in dict.fromkeys(base + protected_categories(extra))
                    if c in ART_9_CATEGORIES]
            if cats:
                emit("GDPR-9", "error", path, ART_9,
                     f"scores or lists {t.id!r}, which is about {' and '.join(cats)} "
                     f"(category {t.category or 'undeclared'})")
        cats = [c for c in base if c in ART_9_CATEGORIES]
        if cats and not used:
            emit("GDPR-9-DECLARED", "warning", ("record_types", ti), ART_9,
                 f"declares {t.id!r} ({' and '.join(cats)}) although no rule uses it: "
                 "accepting such records is already processing special-category data")
        if used and words(t.category, t.id).intersection(CRIMINAL):
            emit("GDPR-10", "info", ("record_types", ti), ART_10,
                 f"{t.id!r} is about offences (category {t.category}): its providers must be "
                 "official authorities or act under a law that authorises it")


def _automated_decisions(rb: Rulebook, emit: Emitter) -> None:
    denies = [i for i, c in enumerate(rb.consequences) if c.effect == "deny"]
    if not denies:
        return
    review = [t for t in rb.record_types if t.kind == "void" and "reviewer" in t.providers]
    if not review:
        emit("GDPR-22", "error", ("consequences", denies[0]), ART_22,
             f"{len(denies)} deny consequence(s) but no human review path: declare a void "
             "record type with `providers: [reviewer]` (e.g. review.void) so that an "
             "objection can withdraw a record")


def _retention(rb: Rulebook, emit: Emitter) -> None:
    for i, r in enumerate(rb.rules):
        if r.expires is None:
            emit("GDPR-5-1-E", "warning", ("rules", i), ART_5_1_E,
                 f"rule on {r.record!r} has no `expires`: its records count for as long as "
                 "they are kept")
    for i, a in enumerate(rb.attributes):
        if a.expires is None:
            emit("GDPR-5-1-E", "warning", ("attributes", i), ART_5_1_E,
                 f"attribute {a.record!r} has no `expires`: a fact of any age is still "
                 "binned (say how old a fact may be, e.g. `expires: 1y`)")
    for i, x in enumerate(rb.lists):
        if x.enter_when.record and x.max_duration is None:
            emit("GDPR-5-1-E", "warning", ("lists", i), ART_5_1_E,
                 f"list {x.id!r} has no `max_duration`")
