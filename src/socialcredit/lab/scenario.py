"""A scenario: the synthetic society the policy lab simulates, as validated YAML.

The scenario is the lab's *assumptions*, so every number in it must be named,
bounded and documented (docs/lab.md explains each parameter). Errors name the file,
the line and the field, as rulebook errors do, because a scenario with a typo that
silently falls back to a default would produce a confident report about the wrong
society.

A scenario says nothing about the rulebook: the same society is scored by every
rulebook `lab compare` is given. Behaviours therefore name several record types
(``records: [finance.bank_arrears, sesame.instalment_overdue]``); each rulebook records
an event as the first of them it declares.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from socialcredit.errors import SocialCreditError
from socialcredit.rulebook.loader import PathKey, dotted, line_of, yaml_line_map
from socialcredit.timeutil import parse_duration_days, parse_instant

SHARE_TOLERANCE = 1e-6
SCENARIO_PACKAGE = "socialcredit.lab.scenarios"


class ScenarioError(SocialCreditError):
    """A scenario that does not load or validate; the message names file, line, field."""


def _duration(value: object) -> object:
    return None if value is None else parse_duration_days(value)


Days = Annotated[float, BeforeValidator(_duration)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Rate = Annotated[float, Field(ge=0.0)]


class _Model(BaseModel):
    """Frozen, no unknown keys (a misspelt `by_distrcit:` must not pass silently);
    documentation keys are welcome everywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str | None = None
    description: str | None = None
    note: str | None = None
    source: str | None = None


class Group(_Model):
    """A population group: ground truth the rulebook never sees (it may be a protected
    characteristic; the lab measures what the rulebook does to it)."""

    id: str
    share: Probability
    districts: dict[str, Probability] | None = None  # where this group lives
    means: dict[str, Probability] | None = None  # this group's income bands


class District(_Model):
    id: str
    share: Probability


class Means(_Model):
    bands: tuple[str, ...] = ("low", "middle", "high")  # lowest first
    shares: dict[str, Probability] | None = None  # default: equal shares
    recovery: Probability = 0.0  # monthly chance of moving one band back up


class Behaviour(_Model):
    id: str
    records: tuple[str, ...]  # record types, first declared by the rulebook wins
    rate: Rate  # true events per subject-month before multipliers
    by_group: dict[str, Rate] = {}
    by_district: dict[str, Rate] = {}
    by_means: dict[str, Rate] = {}
    adverse: bool = True  # the conduct the ground truth labels ("truly engaged")
    payable: bool = False  # an obligation a subject can pay or perform afterwards
    units: Annotated[float, Field(gt=0)] | None = None  # mean units per event (per-unit rules)


class Patrols(_Model):
    """Detection that follows past records (Ensign et al., "Runaway Feedback Loops in
    Predictive Policing", FAT* 2018)."""

    behaviours: tuple[str, ...] | None = None  # default: every behaviour
    follow: Probability = 1.0  # share of the allocation re-decided each month
    sharpness: Annotated[float, Field(ge=0.0)] = 1.0  # allocation ∝ (records per head)^this
    memory: Annotated[int, Field(ge=1)] = 6  # months of records the allocation reads
    smoothing: Annotated[float, Field(ge=0.0)] = 0.001  # records per head added everywhere


class Detection(_Model):
    rate: Probability = 1.0
    by_district: dict[str, Probability] = {}
    by_behaviour: dict[str, dict[str, Probability]] = {}  # behaviour -> district -> rate
    reporting_delay: Days = 3.0  # mean days from an event to its record (exponential)
    patrols: Patrols | None = None


class Errors(_Model):
    rate: Rate = 0.0  # false records per subject-month, for every adverse behaviour
    by_behaviour: dict[str, Rate] = {}  # overrides `rate` for one behaviour
    by_district: dict[str, Rate] = {}  # multipliers
    patrolled: bool = False  # false records scale with patrol intensity too


class Objections(_Model):
    share: Probability = 0.0  # wrongly recorded subjects who object
    upheld: Probability = 1.0  # objections to false records the reviewer upholds
    review_delay: Days = 30.0  # days from the record to the reviewer's void


class Payment(_Model):
    share: Probability = 0.0  # subjects who pay/perform a payable record when they can
    can_pay: dict[str, Probability] = {}  # by income band; default 1
    delay: Days = 14.0  # mean days from the notice (the record) to payment (exponential)


class Action(_Model):
    action: str
    rate: Probability  # monthly chance that a subject asks for it


class FeedbackWhen(_Model):
    action: str
    effect: Literal["deny", "allow", "benefit"] = "deny"


class Feedback(_Model):
    when: FeedbackWhen
    propensity: dict[str, Annotated[float, Field(ge=0.0)]] = {}  # behaviour -> multiplier
    months: Annotated[int, Field(ge=1)] = 12  # how long a propensity change lasts
    means_down: Probability = 0.0  # chance of dropping one income band


class Scenario(_Model):
    scenario: str
    title: str | None = None
    subject_kind: Literal["person", "organization"] = "person"
    population: Annotated[int, Field(ge=1)] = 10_000
    months: Annotated[int, Field(ge=1)] = 60
    seed: int = 1
    start: str = "2027-01-01"
    heterogeneity: Annotated[float, Field(gt=0.0)] | None = 2.0  # gamma shape; None: alike
    truth_window: Annotated[int, Field(ge=1)] = 12  # months
    groups: tuple[Group, ...] = (Group(id="everyone", share=1.0),)
    districts: tuple[District, ...] = (District(id="everywhere", share=1.0),)
    means: Means = Means()
    behaviours: tuple[Behaviour, ...]
    detection: Detection = Detection()
    errors: Errors = Errors()
    objections: Objections = Objections()
    payment: Payment = Payment()
    actions: tuple[Action, ...] = ()
    feedback: tuple[Feedback, ...] = ()

    # -- derived ------------------------------------------------------------------------

    @property
    def start_us(self) -> int:
        return parse_instant(self.start)

    def group_ids(self) -> list[str]:
        return [g.id for g in self.groups]

    def district_ids(self) -> list[str]:
        return [d.id for d in self.districts]

    def behaviour_ids(self) -> list[str]:
        return [b.id for b in self.behaviours]

    def means_shares(self) -> dict[str, float]:
        if self.means.shares is not None:
            return dict(self.means.shares)
        n = len(self.means.bands)
        return {b: 1.0 / n for b in self.means.bands}

    def has_feedback(self) -> bool:
        return bool(self.feedback) or (self.detection.patrols is not None
                                       and self.detection.patrols.follow > 0)

    def with_overrides(self, **changes: Any) -> Scenario:
        """A copy with top-level fields replaced (the CLI's --population, --months, --seed)."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return Scenario.model_validate(data)


def _check(sc: Scenario) -> list[tuple[PathKey, str]]:
    """Cross-references and shares: what pydantic's field types cannot say."""
    problems: list[tuple[PathKey, str]] = []
    groups, districts = sc.group_ids(), sc.district_ids()
    bands, behaviours = list(sc.means.bands), sc.behaviour_ids()

    def unique(path: PathKey, ids: list[str], what: str) -> None:
        seen: set[str] = set()
        for i, x in enumerate(ids):
            if x in seen:
                problems.append(((*path, i), f"{what} {x!r} is declared twice"))
            seen.add(x)

    def sums_to_one(path: PathKey, shares: list[float], what: str) -> None:
        total = math.fsum(shares)
        if abs(total - 1.0) > SHARE_TOLERANCE:
            problems.append((path, f"{what} must add up to 1 (they add up to {total:g})"))

    def keys(path: PathKey, d: dict[str, Any], allowed: list[str], what: str) -> None:
        for k in d:
            if k not in allowed:
                problems.append(((*path, k), f"no {what} {k!r} (declared: "
                                 f"{', '.join(allowed) or 'none'})"))

    unique(("groups",), groups, "group")
    unique(("districts",), districts, "district")
    unique(("means", "bands"), bands, "income band")
    unique(("behaviours",), behaviours, "behaviour")
    if not bands:
        problems.append((("means", "bands"), "name at least one income band"))
    sums_to_one(("groups",), [g.share for g in sc.groups], "group shares")
    sums_to_one(("districts",), [d.share for d in sc.districts], "district shares")
    if sc.means.shares is not None:
        keys(("means", "shares"), sc.means.shares, bands, "income band")
        sums_to_one(("means", "shares"), list(sc.means.shares.values()), "income band shares")
    for i, g in enumerate(sc.groups):
        if g.districts is not None:
            keys(("groups", i, "districts"), g.districts, districts, "district")
            sums_to_one(("groups", i, "districts"), list(g.districts.values()),
                        f"group {g.id!r}'s district shares")
        if g.means is not None:
            keys(("groups", i, "means"), g.means, bands, "income band")
            sums_to_one(("groups", i, "means"), list(g.means.values()),
                        f"group {g.id!r}'s income band shares")
    for i, b in enumerate(sc.behaviours):
        if not b.records:
            problems.append((("behaviours", i, "records"), "name at least one record type"))
        keys(("behaviours", i, "by_group"), b.by_group, groups, "group")
        keys(("behaviours", i, "by_district"), b.by_district, districts, "district")
        keys(("behaviours", i, "by_means"), b.by_means, bands, "income band")
    det = sc.detection
    keys(("detection", "by_district"), det.by_district, districts, "district")
    keys(("detection", "by_behaviour"), det.by_behaviour, behaviours, "behaviour")
    for bid, per in det.by_behaviour.items():
        keys(("detection", "by_behaviour", bid), per, districts, "district")
    if det.patrols is not None and det.patrols.behaviours is not None:
        for j, bid in enumerate(det.patrols.behaviours):
            if bid not in behaviours:
                problems.append((("detection", "patrols", "behaviours", j),
                                 f"no behaviour {bid!r}"))
    keys(("errors", "by_behaviour"), sc.errors.by_behaviour, behaviours, "behaviour")
    keys(("errors", "by_district"), sc.errors.by_district, districts, "district")
    keys(("payment", "can_pay"), sc.payment.can_pay, bands, "income band")
    actions = [a.action for a in sc.actions]
    unique(("actions",), actions, "action")
    for i, f in enumerate(sc.feedback):
        if f.when.action not in actions:
            problems.append((("feedback", i, "when", "action"),
                             f"action {f.when.action!r} is not in `actions` (nobody would "
                             "ask for it)"))
        keys(("feedback", i, "propensity"), f.propensity, behaviours, "behaviour")
        if not f.propensity and f.means_down == 0:
            problems.append((("feedback", i), "a feedback changes `propensity` or "
                             "`means_down`"))
    try:
        sc.start_us  # noqa: B018 - validation by parsing
    except ValueError as exc:
        problems.append((("start",), str(exc)))
    return problems


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    try:
        lines = yaml_line_map(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        raise ScenarioError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}"
                            ) from None
    if not isinstance(data, dict):
        raise ScenarioError(f"{source}:1: a scenario is a YAML mapping (scenario:, "
                            "behaviours:, ...)")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc: PathKey = tuple(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{source}:{line_of(lines, loc) or 1}: "
                            f"{dotted(loc) or '(top level)'}: {msg}")
        raise ScenarioError("invalid scenario\n  " + "\n  ".join(problems)) from None
    found = _check(sc)
    if found:
        raise ScenarioError("invalid scenario\n  " + "\n  ".join(
            f"{source}:{line_of(lines, path) or 1}: {dotted(path)}: {msg}"
            for path, msg in found))
    return sc


def shipped_scenarios() -> list[str]:
    return sorted(p.name.removesuffix(".yaml") for p in
                  resources.files(SCENARIO_PACKAGE).iterdir() if p.name.endswith(".yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A shipped scenario by name (`poverty-feedback`) or a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError(f"{p}: no such scenario file") from None
        except UnicodeDecodeError as exc:
            raise ScenarioError(f"{p}: not UTF-8 text ({exc.reason})") from None
        return parse_scenario(text, str(p))
    res = resources.files(SCENARIO_PACKAGE).joinpath(f"{name_or_path}.yaml")
    if not res.is_file():
        raise ScenarioError(f"no shipped scenario {str(name_or_path)!r} and no such file "
                            f"(shipped: {', '.join(shipped_scenarios())})")
    return parse_scenario(res.read_text(encoding="utf-8"), f"scenarios/{name_or_path}.yaml")


__all__ = ["Scenario", "ScenarioError", "load_scenario", "parse_scenario",
           "shipped_scenarios"]
