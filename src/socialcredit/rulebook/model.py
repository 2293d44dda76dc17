"""The rulebook as a validated, immutable model.

Models are frozen: a published rulebook is identified by the sha256 of its canonical
form, so nothing may change it after validation. Durations are normalised to days at
validation time so that `5y` and `1825` canonicalise (and hash) identically.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from socialcredit.timeutil import days_to_us, parse_duration_days

#: |x| ≤ this for every number in a rulebook (socialcredit.limits.MAX_RULEBOOK_NUMBER):
#: finite, so that no standing can become NaN or infinite.
MAX_NUMBER = 1e9

Kind = Literal["conduct", "fact", "resolution", "void"]
SubjectKind = Literal["person", "organization"]

#: What a duration may look like in YAML (the JSON Schema and the reference say so).
DURATION_HELP = "a duration: <n>d, <n>w (7 days), <n>y (365 days), or a number of days"
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*[dwy]\s*$|^\s*\d+\s*$"
# Marks the places the JSON Schema generator replaces with a reference to one Duration
# definition (pydantic would otherwise inline the schema and leak the `gt` constraint).
DURATION_MARK = "x-socialcredit-duration"


def _duration(value: object) -> object:
    if value is None:
        return None
    return parse_duration_days(value)


def _to_str(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Days = Annotated[float, BeforeValidator(_duration), WithJsonSchema({DURATION_MARK: True})]
# Ids and versions: YAML reads `version: 1` as a number; it means the text "1".
Text = Annotated[str, BeforeValidator(_to_str),
                 WithJsonSchema({"type": ["string", "number"]})]
Scalar = str | float
# Every number of a rulebook: finite and bounded, so a standing is always a finite number.
Num = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_NUMBER, le=MAX_NUMBER)]


def nested_models(annotation: Any) -> list[type[BaseModel]]:
    """The models inside a field's annotation (`tuple[Rule, ...]` -> [Rule])."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in nested_models(arg)]


def _doc(text: str, example: Any = None) -> Any:
    """A field's description and one example, as the reference and the schema show them."""
    return {"description": text, **({"examples": [example]} if example is not None else {})}


class RulebookModel(BaseModel):
    """Frozen, no unknown keys (a typo such as `expire:` must not pass silently), only
    finite numbers (`1e400` read as text would otherwise become infinity), but
    documentation keys are welcome everywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    label: str | None = Field(None, **_doc(
        "A short human name. Record-type labels appear beside each contribution, key "
        "factor and decision reason; list and consequence labels in decisions and "
        "`rulebook show`.", "Bank loan arrears (per monthly cycle)"))
    description: str | None = Field(None, **_doc(
        "Longer prose for readers: what the item is and why it exists. The engine does "
        "not read it.", "Arrears reported by the lending bank once per missed cycle."))
    note: str | None = Field(None, **_doc(
        "A remark for readers of the YAML (why a value was chosen, what to revisit). "
        "The engine does not read it.", "Half-life chosen so that a year-old arrear "
        "weighs a sixteenth."))
    source: str | None = Field(None, **_doc(
        "Where the values come from: a law, a published table, a report. The engine does "
        "not read it.", "Rongcheng Personal Credit Assessment Standards, Att. 1"))
    illustrative: bool | None = Field(None, **_doc(
        "`true` when the values are the author's choice rather than taken from a source, "
        "so that readers do not mistake them for a real system's. Documentation only.",
        True))


#: Keys any part of a rulebook may carry to document itself; they never change scoring.
DOC_KEYS = tuple(RulebookModel.model_fields)


class Scale(RulebookModel):
    base: Num = Field(**_doc(
        "The score every subject starts from; records and facts add to or take from it.",
        1000))
    min: Num | None = Field(None, **_doc(
        "The lowest score: the total is clamped to it. Absent: no floor.", 0))
    max: Num | None = Field(None, **_doc(
        "The highest score: the total is clamped to it. Absent: no ceiling.", 1200))

    @model_validator(mode="after")
    def _bounds(self) -> Scale:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("scale.min must not exceed scale.max")
        return self


class Dimension(RulebookModel):
    id: Text = Field(**_doc(
        "The name rules and attributes use in `dimension:`; standings report a score "
        "per dimension.", "commercial"))
    min: Num | None = Field(None, **_doc(
        "Floor of the dimension's sum (contributions and attribute points), applied "
        "before the dimensions are added to `scale.base`: however many records, this "
        "dimension takes off at most this much.", -600))
    max: Num | None = Field(None, **_doc(
        "Cap of the dimension's sum, applied before the total: rewards in this "
        "dimension add at most this much.", 200))

    @model_validator(mode="after")
    def _bounds(self) -> Dimension:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"dimension {self.id}: min must not exceed max")
        return self


def _resolver(value: object) -> object:
    return {"type": value} if isinstance(value, str) else value


class Resolver(RulebookModel):
    type: Text = Field(**_doc(
        "A resolution record type (declared in `record_types`) that may resolve records "
        "of this type.", "court.judgment_performed"))
    providers: tuple[str, ...] | None = Field(None, **_doc(
        "The provider roles that may file it against this type; absent: every role the "
        "resolution type names in its own `providers`. Must be among those.", ["court"]))


class RecordType(RulebookModel):
    id: Text = Field(**_doc(
        "The value providers put in a record's `type` column. Programs that share a "
        "type must agree on its kind, providers and evidence.", "finance.bank_arrears"))
    kind: Kind = Field(**_doc(
        "`conduct`: something the subject did, scored by rules and able to trigger "
        "lists; `fact`: a current value (months of history, a rating) that attributes "
        "bin, the latest replacing older ones; `resolution`: resolves the conduct record "
        "its `ref` names (a debt paid); `void`: withdraws the record its `ref` names "
        "after review (reviewers only).", "conduct"))
    category: str | None = Field(None, **_doc(
        "What the data is about, in words (financial_obligation, traffic_violation). "
        "The baseline refuses protected categories (health, religion, political "
        "opinion…) and social ties (relatives, contacts) by these words; the linter "
        "reads it.", "financial_obligation"))
    context: str | None = Field(None, **_doc(
        "The sphere of life where the data was generated (finance, transport, "
        "judicial). The linter compares it with the context of every consequence the "
        "record can set off (EU AI Act Art. 5(1)(c)(i)).", "finance"))
    providers: tuple[str, ...] = Field((), **_doc(
        "Provider roles allowed to submit records of this type; ingest refuses a record "
        "from a provider registered under another role. Voids take `[reviewer]` only.",
        ["bank"]))
    evidence: Literal["required", "optional"] = Field("optional", **_doc(
        "`required`: every record must carry an evidence reference (a URI or digest). "
        "The baseline demands it of every type that takes points off or lists.",
        "required"))
    legal_basis: str | None = Field(None, **_doc(
        "The law, regulation or contract that allows recording and using it. The "
        "baseline demands one of every type that takes points off or lists.",
        "Rongcheng Personal Credit Assessment Standards (deduction list)"))
    severity: Literal["minor", "general", "serious"] | None = Field(None, **_doc(
        "The gravity of the conduct, against which the linter weighs sanctions (EU AI "
        "Act proportionality) and retention (the 2026 Chinese credit-repair periods: "
        "minor ≤ 3 months, general 3 months–1 year, serious 1–3 years).", "general"))
    value: Literal["number", "text", "any"] | None = Field(None, **_doc(
        "What a record's `value` holds, for providers' documentation. The engine does "
        "not check it: per-unit rules need a number whatever it says.", "number"))
    item: Text | None = Field(None, **_doc(
        "The item of the rulebook's catalogue this type records (its `id` there). "
        "Publication refuses a record type that cites none, or an item the catalogue "
        "does not list, or one whose providers, subjects, publicity or validity the type "
        "exceeds: the catalogue is the allowlist of what may be recorded.",
        "judicial.dishonest_judgment_defaulter"))
    resolved_by: tuple[Annotated[Resolver, BeforeValidator(
            _resolver, json_schema_input_type=str | Resolver)], ...] | None = Field(
        None, **_doc(
            "The resolution types that may resolve a record of this type, and which "
            "provider roles may file them (`[court.judgment_performed]`, or "
            "`[{type: sesame.overdue_settled, providers: [merchant]}]`). Ingest refuses "
            "any other resolution naming such a record: a bank cannot lift a court's "
            "listing. Absent: nothing resolves it.", ["court.judgment_performed"]))
    negative_values: Literal["refused", "allowed"] | None = Field(None, **_doc(
        "Whether a record's numeric `value` may be below zero (absent: refused). On a type "
        "scored per unit a negative value turns a reward into a penalty, so `allowed` "
        "makes the baseline demand evidence, a legal basis and an expiry as for any "
        "penalty.", "allowed"))


class Rule(RulebookModel):
    record: Text = Field(**_doc(
        "The conduct or fact record type this rule scores (declared in "
        "`record_types`). Several rules may score one type.", "finance.bank_arrears"))
    dimension: Text = Field(**_doc(
        "The dimension its points count in (declared in `dimensions`).", "commercial"))
    points: Num | None = Field(None, **_doc(
        "Points each counting record adds (negative: takes off). A rule has exactly one "
        "of `points` and `points_per_unit`.", -10))
    points_per_unit: Num | None = Field(None, **_doc(
        "Points per unit of the record's numeric `value` (0.5 per volunteer hour); a "
        "record without a number scores 0.", 0.5))
    half_life: Days | None = Field(None, gt=0, **_doc(
        "Decay: a record's points halve every half-life of its age (counted from "
        "`occurred_at`). Absent: full points until it expires.", "90d"))
    expires: Days | None = Field(None, gt=0, **_doc(
        "Age (from `occurred_at`) at which a record stops counting. The baseline "
        "demands it of every rule that can take points off: nothing negative lasts "
        "forever.", "1y"))
    max_count: int | None = Field(None, ge=1, **_doc(
        "Only the N most recent counting records of this rule contribute (ties: the "
        "larger record_id). Caps how much minor conduct can add up.", 12))
    resolved_points: Num | None = Field(None, **_doc(
        "Points that replace `points` once a resolution referring to the record has "
        "occurred (arrears repaid: −10 becomes −5; 0 lifts it). Absent: a resolution "
        "changes nothing for this rule.", -5))
    # Whose standing the record counts against. Only `self` is ever operated: any
    # other value (relatives, contacts, ...) is a line the system does not cross,
    # modelled so that the refusal can be stated and tested.
    applies_to: str = Field("self", **_doc(
        "Whose standing the record counts against. Only `self` is operated; any other "
        "value (relatives, contacts…) is refused by the baseline — it exists so that "
        "rulebooks describing such practices can be linted.", "self"))

    @model_validator(mode="after")
    def _one_points(self) -> Rule:
        if (self.points is None) == (self.points_per_unit is None):
            raise ValueError("a rule needs exactly one of points or points_per_unit")
        return self

    def may_be_negative(self) -> bool:
        return any(
            p is not None and p < 0
            for p in (self.points, self.points_per_unit, self.resolved_points)
        )


class Bin(RulebookModel):
    below: Num | None = Field(None, **_doc(
        "Matches a numeric value strictly below this number.", 12))
    values: tuple[Scalar, ...] | None = Field(None, **_doc(
        "Matches any of these values (a number matches its text form: 99 and \"99\"). "
        "A bin with neither `below` nor `values` matches anything.", ["verified"]))
    points: Num = Field(**_doc("Points when this bin is the first that matches.", 5))

    @model_validator(mode="after")
    def _one_test(self) -> Bin:
        if self.below is not None and self.values is not None:
            raise ValueError("a bin takes `below` or `values`, not both")
        return self


class Attribute(RulebookModel):
    record: Text = Field(**_doc(
        "The fact record type whose latest counting value is binned.",
        "fact.credit_history_months"))
    dimension: Text = Field(**_doc("The dimension its points count in.", "capacity"))
    bins: tuple[Bin, ...] = Field(**_doc(
        "Tried in order; the first that matches the value gives the points.",
        [{"below": 12, "points": 0}, {"below": 36, "points": 5}, {"points": 10}]))
    missing: Num = Field(0.0, **_doc(
        "Points when there is no counting fact, or no bin places its value.", 0))
    expires: Days | None = Field(None, gt=0, **_doc(
        "A fact older than this no longer counts (then `missing` applies): stale "
        "snapshots do not decide anything.", "90d"))
    applies_to: str = Field("self", **_doc(
        "As for rules: only `self` is operated.", "self"))
    # Optional refinements of the record type's own category/context, read by the linter
    # and the baseline (e.g. an imported scorecard names what each variable is about).
    category: str | None = Field(None, **_doc(
        "Refines the record type's `category` for this attribute (an imported scorecard "
        "names what each variable is about); the baseline and the linter read it.",
        "credit_history"))
    context: str | None = Field(None, **_doc(
        "Refines the record type's `context` for this attribute.", "finance"))


class Tier(RulebookModel):
    id: Text = Field(**_doc("The tier's name, as standings and `tier_at_least` use it.",
                            "AAA"))
    min: Num = Field(**_doc(
        "The lowest score in the tier. Tiers are listed highest first; a subject's tier "
        "is the first whose `min` ≤ its score.", 1050))


class EnterWhen(RulebookModel):
    record: Text | None = Field(None, **_doc(
        "Each record of this type (not voided) lists the subject from its `recorded_at` "
        "+ `notice` until the record's first resolution or `max_duration`, whichever "
        "comes first. The type needs no scoring rule.", "court.refuses_to_perform"))
    score_below: Num | None = Field(None, **_doc(
        "The subject is listed while its score is below this number and has been below "
        "it for the whole notice period; the listing ends as soon as the score "
        "recovers.", 600))

    @model_validator(mode="after")
    def _one(self) -> EnterWhen:
        if (self.record is None) == (self.score_below is None):
            raise ValueError("enter_when needs exactly one of record or score_below")
        return self


class ListDef(RulebookModel):
    id: Text = Field(**_doc(
        "The list's name, as `on_list`/`not_on_list` and standings use it.",
        "dishonest_judgment_defaulters"))
    kind: Literal["black", "red"] = Field(**_doc(
        "`black`: a list that sanctions (the baseline demands `notice`, and "
        "`max_duration` when a record enters it); `red`: a list that rewards.", "black"))
    public: bool = Field(False, **_doc(
        "Whether listings are published (the courts publish their defaulter list). "
        "Standings and decisions report it; the linter weighs it against severity.",
        True))
    enter_when: EnterWhen = Field(**_doc(
        "How one enters: exactly one of `record` or `score_below`.",
        {"record": "court.refuses_to_perform"}))
    notice: Days = Field(0.0, **_doc(
        "Time between notice and effect: the subject is notified when the listing is "
        "recorded (a pending entry in the standing) and can object before it takes "
        "effect. Blacklists need more than 0.", "10d"))
    max_duration: Days | None = Field(None, gt=0, **_doc(
        "The longest a listing lasts from when it takes effect. Record-entered "
        "blacklists need one (listings end).", "2y"))
    legal_basis: str | None = Field(None, **_doc(
        "The law or regulation the list rests on; shown to the subject.",
        "SPC Provisions on Publishing the List of Dishonest Judgment Defaulters"))
    applies_to: str = Field("self", **_doc(
        "As for rules: only `self` is operated; listing anyone for another's conduct is "
        "refused.", "self"))
    court_ordered: bool | None = Field(None, **_doc(
        "`true` when a court has already ordered the listing's effect (the courts' "
        "defaulter lists): an objection is still reviewed, but it does not suspend the "
        "listing, and the notice says so. Absent or `false`: a timely objection suspends "
        "the listing until it is decided.", True))


    def interval(self, occurred_at: int, recorded_at: int, known_at: int
                 ) -> tuple[int, int, int | None]:
        """(notice_from, start, cap) of the listing a record of the entering type causes.

        Notice runs from the moment the ledger knew the record (its transaction time; a
        backfilled record's is when it was backfilled), and never from before the
        conduct: start = max(occurred_at, known_at) + notice. The listing lasts at most
        max_duration from when it would have started had the record been known at its
        own recorded_at, so that learning of it late never lengthens it: cap =
        max(occurred_at, recorded_at) + notice + max_duration."""
        notice = days_to_us(self.notice)
        notice_from = max(occurred_at, known_at)
        anchor = max(occurred_at, recorded_at) + notice
        cap = anchor + days_to_us(self.max_duration) if self.max_duration is not None else None
        return notice_from, notice_from + notice, cap


class When(RulebookModel):
    on_list: Text | None = Field(None, **_doc(
        "Holds while the subject is on this list (in effect, not merely notified).",
        "dishonest_judgment_defaulters"))
    not_on_list: Text | None = Field(None, **_doc(
        "Holds while the subject is not on this list.", "dishonest_judgment_defaulters"))
    tier_at_least: Text | None = Field(None, **_doc(
        "Holds when the subject's tier is this one or one listed before it.", "A"))
    score_at_least: Num | None = Field(None, **_doc(
        "Holds when the score is at least this number.", 600))
    score_below: Num | None = Field(None, **_doc(
        "Holds when the score is below this number.", 580))

    def conditions(self) -> dict[str, Any]:
        return {
            k: v
            for k in ("on_list", "not_on_list", "tier_at_least", "score_at_least", "score_below")
            if (v := getattr(self, k)) is not None
        }


class Consequence(RulebookModel):
    action: Text = Field(**_doc(
        "What a relying party asks about (`socialcredit check SUBJECT ACTION`). Several "
        "consequences may name one action: any applying deny wins, else the applying "
        "benefits' grants merge.", "rail.g_train_ticket"))
    context: str | None = Field(None, **_doc(
        "The sphere of life where the subject is treated. The linter compares it with "
        "the contexts of the data that can set it off (EU AI Act Art. 5(1)(c)(i)).",
        "transport"))
    effect: Literal["deny", "allow", "benefit"] = Field(**_doc(
        "`deny`, `allow`, or `benefit` (with a `grant`).", "deny"))
    grant: dict[str, Any] | None = Field(None, **_doc(
        "What a benefit gives, as keys and values the relying party reads "
        "(`deposit_waived: true`). Only `effect: benefit` takes one.",
        {"deposit_waived": True}))
    when: When = Field(default_factory=When, **_doc(
        "Conditions that must all hold for the consequence to apply; empty: always.",
        {"on_list": "dishonest_judgment_defaulters"}))
    provider: str | None = Field(None, **_doc(
        "Who enforces it: the agency or relying party that declared the consequence.",
        "national_railway"))
    category: str | None = Field(None, **_doc(
        "What the treatment is (travel_ban, deposit_waiver); the linter reads it.",
        "travel_ban"))
    legal_basis: str | None = Field(None, **_doc(
        "The law, regulation or contract that allows the treatment; shown in decisions.",
        "SPC Provisions on Restricting High Consumption by Judgment Debtors"))
    applies_to: str = Field("self", **_doc(
        "Who is treated. Only `self` is operated: sanctions and rewards never reach "
        "relatives or contacts.", "self"))
    duration: Days | None = Field(None, gt=0, **_doc(
        "How long the treatment lasts once given, as the declaring agency states it (a "
        "180-day rail ban). Documentation: the engine applies a consequence exactly "
        "while its `when` holds.", "180d"))
    measure: Text | None = Field(None, **_doc(
        "The measure of the rulebook's catalogue this consequence applies (its `id` "
        "there). Publication refuses a `deny` or `benefit` that cites none, or a measure "
        "the catalogue does not list, of the wrong kind, or outlasting the measure's "
        "`max_duration`.", "restrict_high_speed_rail"))

    @model_validator(mode="after")
    def _grant(self) -> Consequence:
        if self.grant and self.effect != "benefit":
            raise ValueError("only effect: benefit takes a grant")
        return self


class RepairPeriod(RulebookModel):
    record: Text | None = Field(None, **_doc(
        "The record type this period is for. A period for a record type wins over one for "
        "its severity. Exactly one of `record` and `severity`.", "court.refuses_to_perform"))
    severity: Literal["minor", "general", "serious"] | None = Field(None, **_doc(
        "The severity (the record type's `severity`) this period is for.", "serious"))
    after: Days = Field(**_doc(
        "The minimum publication period: how long after a record occurred (for its "
        "points) or after its listing took effect (for the listing) the subject may apply "
        "for repair. The 2026 Chinese credit-repair measures: general information after 3 "
        "months, serious after 1 year.", "1y"))
    conditions: tuple[str, ...] = Field((), **_doc(
        "What the applicant must state and show, by name (obligation_performed, "
        "commitment, course…): an application that leaves one out is refused at once.",
        ["obligation_performed", "commitment"]))


class Repair(RulebookModel):
    reply_within: int | None = Field(None, ge=1, **_doc(
        "Working days (Monday to Friday) within which a reviewer must reply to an "
        "application (accept it for decision, or refuse it). Absent: 10, as the 2026 "
        "Chinese credit-repair measures set.", 10))
    decide_within: int | None = Field(None, ge=1, **_doc(
        "Working days within which an accepted application must be decided. Absent: 3. "
        "Repair is always free of charge: the system has no fee.", 3))
    periods: tuple[RepairPeriod, ...] = Field((), **_doc(
        "When repair is available, per record type or severity. A record with no period "
        "is not repairable early: it ends at its maximum (`expires`, `max_duration`), or "
        "through an objection.",
        [{"severity": "serious", "after": "1y",
          "conditions": ["obligation_performed", "commitment"]}]))


#: Defaults of the due-process fields, stated once (docs/due-process.md quotes them).
REVIEW_DEADLINE_DAYS = 30.0  # as FCRA §611(a)(1) for reinvestigations
APPEAL_WINDOW_DAYS = 30.0
REPAIR_REPLY_WORKDAYS = 10
REPAIR_DECIDE_WORKDAYS = 3


class DueProcess(RulebookModel):
    objection_window: Days | None = Field(None, ge=0, **_doc(
        "How long after the notice of a record an objection still counts as timely, so "
        "that it suspends the record's listings (unless `court_ordered`). Absent: until "
        "the listing takes effect (the list's `notice`). Objections are accepted later "
        "too, without suspension.", "30d"))
    review_deadline: Days | None = Field(None, gt=0, **_doc(
        "How long a reviewer has to decide an objection or an appeal from its filing. "
        "Absent: 30 days (as FCRA §611 gives a consumer reporting agency). An objection "
        "not decided in time resolves in the subject's favour: the record stops counting "
        "and the operator is alerted.", "30d"))
    appeal_window: Days | None = Field(None, gt=0, **_doc(
        "How long after an objection's outcome the subject may appeal it (once, to an "
        "appeal reviewer who did not decide it). Absent: 30 days.", "30d"))
    undelivered_notice: Literal["delay", "proceed"] | None = Field(None, **_doc(
        "What an undelivered listing notice does: `delay` (the default) holds the "
        "listing's effect until the notice is delivered, and then for a whole notice "
        "period; `proceed` lets it take effect on time (the operator is alerted either "
        "way). Applies to subjects with a delivery address.", "delay"))
    repair: Repair | None = Field(None, **_doc(
        "Credit repair: when a subject may apply to end a record's publication or a "
        "listing early, on what conditions, and how fast it is answered.",
        {"reply_within": 10, "decide_within": 3,
         "periods": [{"severity": "serious", "after": "1y",
                      "conditions": ["obligation_performed", "commitment"]}]}))

    def review_days(self) -> float:
        return self.review_deadline if self.review_deadline is not None \
            else REVIEW_DEADLINE_DAYS

    def appeal_days(self) -> float:
        return self.appeal_window if self.appeal_window is not None else APPEAL_WINDOW_DAYS

    def delays_undelivered(self) -> bool:
        return self.undelivered_notice != "proceed"


#: The due process of a rulebook that says nothing about it: every default.
DEFAULT_DUE_PROCESS = DueProcess()


class CatalogueRef(RulebookModel):
    id: Text = Field(**_doc("The catalogue's id (`catalogue:` in its file).",
                            "cn-public-credit"))
    version: Text = Field(**_doc("The catalogue version the rulebook cites.", "2024"))


class SubjectIds(RulebookModel):
    mixed_scripts: bool = Field(False, **_doc(
        "Accept subject ids that mix scripts or are written in Cyrillic or Greek "
        "letters that all look like Latin ones. Refused by default: such ids imitate "
        "other ids (`аlice` with a Cyrillic а). Allowed in a ledger only when every "
        "program's rulebook allows them.", True))


class Rulebook(RulebookModel):
    """One version of one program."""

    rulebook: Text = Field(**_doc(
        "The program's id (`--program`); every version of a program shares it.",
        "rongcheng"))
    version: Text = Field(**_doc(
        "This version's name, unique within the program (quote it: \"2026.1\").",
        "2026.1"))
    title: str | None = Field(None, **_doc(
        "A one-line title for people.", "Rongcheng personal credit points"))
    subjects: tuple[Literal["person", "organization"], ...] = Field(("person",), **_doc(
        "The kinds of subject the program applies to; subjects of another kind get a "
        "standing with `applies: false`.", ["person"]))
    scale: Scale = Field(**_doc("Where scores start and their bounds.",
                                {"base": 1000, "min": 0, "max": 1200}))
    dimensions: tuple[Dimension, ...] = Field((), **_doc(
        "The parts a score is explained in; each may be capped.",
        [{"id": "commercial", "min": -600, "max": 200}]))
    record_types: tuple[RecordType, ...] = Field((), **_doc(
        "Every record type the program reads: what it is, who may report it, what "
        "evidence and legal basis it needs."))
    rules: tuple[Rule, ...] = Field((), **_doc(
        "Points for conduct (and fact) records: how much, how long, how they decay."))
    attributes: tuple[Attribute, ...] = Field((), **_doc(
        "Scorecard facts: the latest value of a fact type, binned into points."))
    tiers: tuple[Tier, ...] = Field((), **_doc(
        "Named score bands, highest first.", [{"id": "A", "min": 960}, {"id": "B",
                                                                         "min": 0}]))
    lists: tuple[ListDef, ...] = Field((), **_doc(
        "Blacklists and red lists: how one enters, the notice, how long, how it ends."))
    consequences: tuple[Consequence, ...] = Field((), **_doc(
        "What relying parties do: deny, allow or benefit an action, and when."))
    due_process: DueProcess | None = Field(None, **_doc(
        "The subject's rights under this program: the objection window, the review "
        "deadline, appeals, undelivered notices, credit repair. Absent: every default "
        "(docs/due-process.md).", {"review_deadline": "30d", "undelivered_notice": "delay"}))
    catalogue: CatalogueRef | None = Field(None, **_doc(
        "The catalogue (a published allowlist of information items and measures) this "
        "rulebook cites: every record type names an `item` of it and every deny or "
        "benefit a `measure`. Publication refuses a rulebook without one.",
        {"id": "cn-public-credit", "version": "2024"}))
    subject_ids: SubjectIds | None = Field(None, **_doc(
        "How subject ids may be written beyond the one normalisation every id gets "
        "(NFC, trimmed, no invisible characters, at most 200 characters).",
        {"mixed_scripts": False}))

    @model_validator(mode="after")
    def _references(self) -> Rulebook:
        """Every record type, dimension, list and tier a rule names must be declared."""
        errors: list[str] = []

        def unique(kind: str, ids: list[str]) -> None:
            seen: set[str] = set()
            for i in ids:
                if i in seen:
                    errors.append(f"{kind} {i!r} is declared twice")
                seen.add(i)

        unique("dimension", [d.id for d in self.dimensions])
        unique("record type", [t.id for t in self.record_types])
        unique("tier", [t.id for t in self.tiers])
        unique("list", [x.id for x in self.lists])
        if not self.subjects:
            errors.append("subjects: name at least one kind (person, organization)")
        types = {t.id: t for t in self.record_types}
        dims = {d.id for d in self.dimensions}
        lists = {x.id for x in self.lists}
        tiers = {t.id for t in self.tiers}
        for i, r in enumerate(self.rules):
            t = types.get(r.record)
            if t is None:
                errors.append(f"rules[{i}].record: record type {r.record!r} is not declared")
            elif t.kind not in ("conduct", "fact"):
                errors.append(f"rules[{i}].record: {r.record!r} is a {t.kind} record; "
                              "rules score conduct or fact records")
            if r.dimension not in dims:
                errors.append(f"rules[{i}].dimension: dimension {r.dimension!r} is not declared")
        for i, a in enumerate(self.attributes):
            t = types.get(a.record)
            if t is None:
                errors.append(f"attributes[{i}].record: record type {a.record!r} is not declared")
            elif t.kind not in ("conduct", "fact"):
                errors.append(f"attributes[{i}].record: {a.record!r} is a {t.kind} record")
            if a.dimension not in dims:
                errors.append(
                    f"attributes[{i}].dimension: dimension {a.dimension!r} is not declared")
        mins = [t.min for t in self.tiers]
        if any(a < b for a, b in pairwise(mins)):
            errors.append("tiers: list them highest first (each min ≤ the one before)")
        for i, x in enumerate(self.lists):
            rec = x.enter_when.record
            if rec is not None and rec not in types:
                errors.append(f"lists[{i}].enter_when.record: record type {rec!r} is not declared")
        for i, c in enumerate(self.consequences):
            w = c.when
            for key in ("on_list", "not_on_list"):
                v = getattr(w, key)
                if v is not None and v not in lists:
                    errors.append(f"consequences[{i}].when.{key}: list {v!r} is not declared")
            if w.tier_at_least is not None and w.tier_at_least not in tiers:
                errors.append(
                    f"consequences[{i}].when.tier_at_least: tier {w.tier_at_least!r} "
                    "is not declared")
        repair = self.due_process.repair if self.due_process else None
        for i, rp in enumerate(repair.periods if repair else ()):
            where = f"due_process.repair.periods[{i}]"
            if (rp.record is None) == (rp.severity is None):
                errors.append(f"{where}: name exactly one of record or severity")
            elif rp.record is not None and rp.record not in types:
                errors.append(f"{where}.record: record type {rp.record!r} is not declared")
        for t in self.record_types:
            for j, res in enumerate(t.resolved_by or ()):
                target = types.get(res.type)
                where = f"record type {t.id!r}: resolved_by[{j}]"
                if target is None:
                    errors.append(f"{where}: record type {res.type!r} is not declared")
                elif target.kind != "resolution":
                    errors.append(f"{where}: {res.type!r} is a {target.kind} record, not a "
                                  "resolution")
                elif res.providers is not None and not set(res.providers) <= set(
                        target.providers):
                    extra = sorted(set(res.providers) - set(target.providers))
                    errors.append(f"{where}: roles {extra} "
                                  f"may not file {res.type!r} at all (its providers: "
                                  f"{sorted(target.providers)})")
            if t.resolved_by and t.kind not in ("conduct",):
                errors.append(f"record type {t.id!r}: only conduct records are resolved "
                              f"({t.id!r} is {t.kind})")
            if t.kind == "void" and any(p != "reviewer" for p in t.providers):
                errors.append(f"record type {t.id!r}: only reviewers may submit voids "
                              "(providers: [reviewer])")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # -- derived views (cached: the model is frozen) --------------------------------

    @property
    def id(self) -> str:
        return self.rulebook

    def canonical(self) -> str:
        """Canonical JSON: normalised values, sorted keys, no whitespace, no nulls."""
        return _canonical_cache(self)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @cached_property
    def types(self) -> dict[str, RecordType]:
        return {t.id: t for t in self.record_types}

    @cached_property
    def rules_by_type(self) -> dict[str, tuple[int, ...]]:
        """Rule indexes by record type, in rulebook order: a standing reads only the rules
        of the types its records have (a rulebook may hold 100,000 rules)."""
        out: dict[str, list[int]] = {}
        for i, r in enumerate(self.rules):
            out.setdefault(r.record, []).append(i)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def consequences_by_action(self) -> dict[str, tuple[tuple[int, Consequence,
                                                             tuple[tuple[str, Any], ...]], ...]]:
        """(index, consequence, its conditions) by action, in rulebook order: what a
        decision reads, indexed once per version."""
        out: dict[str, list[tuple[int, Consequence, tuple[tuple[str, Any], ...]]]] = {}
        for i, c in enumerate(self.consequences):
            out.setdefault(c.action, []).append((i, c, tuple(c.when.conditions().items())))
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def dimension_bounds(self) -> tuple[tuple[str, float | None, float | None], ...]:
        """(id, min, max) of each dimension, in order: what evaluating a materialized
        row at an instant reads, once per version rather than per attribute per call."""
        return tuple((d.id, d.min, d.max) for d in self.dimensions)

    @cached_property
    def list_plan(self) -> tuple[tuple[str, bool, float | None, float], ...]:
        """(id, entered by a record, score_below, notice days) of each list, in order
        (as `dimension_bounds`)."""
        return tuple((x.id, x.enter_when.record is not None, x.enter_when.score_below,
                      float(x.notice)) for x in self.lists)

    @cached_property
    def tier_floors(self) -> tuple[tuple[float, str], ...]:
        """(min, id) of each tier, highest first (as `dimension_bounds`)."""
        return tuple((tr.min, tr.id) for tr in self.tiers)

    @cached_property
    def memo(self) -> dict[Any, Any]:
        """Per-version results other modules keep (a decision's outcome by the standing's
        tier and lists): a version is immutable, so whatever is derived from it alone may
        live as long as it does."""
        return {}

    @cached_property
    def tier_rank(self) -> dict[str, int]:
        return {t.id: i for i, t in enumerate(self.tiers)}

    @cached_property
    def scored_types(self) -> frozenset[str]:
        """Types with a rule or attribute: the records a standing reads."""
        return frozenset(r.record for r in self.rules) | frozenset(
            a.record for a in self.attributes)

    @cached_property
    def list_types(self) -> frozenset[str]:
        return frozenset(x.enter_when.record for x in self.lists if x.enter_when.record)

    def applies_to(self, subject_kind: str | None) -> bool:
        return subject_kind in self.subjects

    @property
    def due(self) -> DueProcess:
        """The due-process settings, defaults filled in."""
        return self.due_process if self.due_process is not None else DEFAULT_DUE_PROCESS

    def repair_period(self, type_id: str) -> RepairPeriod | None:
        """The repair period for a record type: its own, else its severity's."""
        repair = self.due.repair
        if repair is None:
            return None
        for rp in repair.periods:
            if rp.record == type_id:
                return rp
        sev = self.types[type_id].severity if type_id in self.types else None
        return next((rp for rp in repair.periods
                     if rp.severity is not None and rp.severity == sev), None)

    def is_negative(self, type_id: str) -> bool:
        """Whether a record of this type can take points off or put the subject on a
        blacklist: what the subject is notified of."""
        return any(self.rules[i].may_be_negative() for i in self.rules_by_type.get(type_id, ())
                   ) or any(
            x.kind == "black" and x.enter_when.record == type_id for x in self.lists)


def _canonical_cache(rb: Rulebook) -> str:
    cached = rb.__dict__.get("_canonical")
    if cached is None:
        data = rb.model_dump(mode="json", exclude_none=True)
        cached = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        rb.__dict__["_canonical"] = cached
    return str(cached)
