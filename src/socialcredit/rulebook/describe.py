"""A rulebook in plain words: what a subject, a journalist or a judge would read.

The YAML is exact but written for the engine; a person asking "what can be recorded
about me, who reports it, what does it cost, for how long, how do I get off this list,
who enforces that ban" should not have to learn the model to find out. Every sentence is
derived from the rulebook itself, so the description can never promise what the
rulebook does not do — and a rulebook the engine refuses is described too, with the
refusal first.

    describe_rulebook(rb)                    # text
    describe_rulebook(rb, fmt="markdown")
    describe_data(rb)                        # the same, as JSON-ready data
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from socialcredit.rulebook.baseline import baseline_violations
from socialcredit.rulebook.loader import source_name
from socialcredit.rulebook.model import (
    Attribute,
    Bin,
    Consequence,
    ListDef,
    RecordType,
    Rule,
    Rulebook,
)

Format = Literal["text", "markdown"]
WIDTH = 88


@dataclass
class Item:
    id: str
    title: str
    text: list[str]
    declared: dict[str, Any]  # the rulebook's own entry, for machines (no nulls)


@dataclass
class Section:
    title: str
    intro: list[str] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)


@dataclass
class Description:
    program: str
    version: str
    title: str
    sha256: str
    subjects: list[str]
    operable: bool
    refusals: list[str]
    summary: list[str]
    sections: list[Section]


# -- words for numbers, durations and conditions -----------------------------------------

def num(x: float) -> str:
    """1000 -> "1,000"; 0.5 -> "0.5"; -10.0 -> "-10"."""
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.4f}".rstrip("0").rstrip(".")


def points(x: float) -> str:
    n = abs(x)
    return f"{num(n)} point{'' if n == 1 else 's'}"


def days(d: float) -> str:
    """Days as people say them: 365 -> "1 year", 1095 -> "3 years", 90 -> "90 days"."""
    if d >= 365 and d % 365 == 0:
        y = int(d // 365)
        return f"{y} year{'' if y == 1 else 's'}"
    return f"{num(d)} day{'' if d == 1 else 's'}"


def every(d: float) -> str:
    """"every year", "every 2 years", "every 90 days"."""
    text = days(d)
    return "every " + text.removeprefix("1 ") if text.startswith("1 ") else f"every {text}"


def plural(kinds: Iterable[str]) -> str:
    names = {"person": "persons", "organization": "organizations"}
    return " and ".join(names.get(k, k) for k in kinds)


def words(identifier: str | None) -> str:
    """`financial_obligation` -> "financial obligation"."""
    return (identifier or "").replace("_", " ")


def _join(parts: list[str], last: str = "and") -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + f" {last} " + parts[-1]


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float | int):
        return num(v)
    return str(v)


class _Names:
    """Labels for ids, so that sentences speak of "Dishonest judgment defaulters" rather
    than `dishonest_judgment_defaulters` — with the id beside it, for those who look it
    up."""

    def __init__(self, rb: Rulebook) -> None:
        self.rb = rb
        self.dims = {d.id: d.label or d.id for d in rb.dimensions}
        self.lists = {x.id: x for x in rb.lists}

    def type(self, type_id: str) -> str:
        t = self.rb.types.get(type_id)
        return f"{t.label} (`{type_id}`)" if t is not None and t.label else f"`{type_id}`"

    def dim(self, dim_id: str) -> str:
        label = self.dims.get(dim_id, dim_id)
        return label if label == dim_id else f"{label} (`{dim_id}`)"

    def list(self, list_id: str) -> str:
        x = self.lists.get(list_id)
        return f"the list {x.label} (`{list_id}`)" if x is not None and x.label else \
            f"the list `{list_id}`"


def condition_words(c: Consequence, n: _Names) -> str:
    w = c.when
    parts: list[str] = []
    if w.on_list is not None:
        parts.append(f"while on {n.list(w.on_list)}")
    if w.not_on_list is not None:
        parts.append(f"while not on {n.list(w.not_on_list)}")
    if w.tier_at_least is not None:
        parts.append(f"at tier {w.tier_at_least} or above")
    if w.score_at_least is not None:
        parts.append(f"with a score of {num(w.score_at_least)} or more")
    if w.score_below is not None:
        parts.append(f"with a score below {num(w.score_below)}")
    return _join(parts) if parts else "always"


def _bins(bins: Iterable[Bin]) -> str:
    out: list[str] = []
    lower: float | None = None
    for b in bins:
        if b.below is not None:
            span = (f"below {num(b.below)}" if lower is None
                    else f"from {num(lower)} to below {num(b.below)}")
            lower = b.below if lower is None or b.below > lower else lower
        elif b.values is not None:
            span = _join([f"“{_value(v)}”" for v in b.values], "or")
        else:
            span = "any other value"
        out.append(f"{span}: {num(b.points)} points")
    return "; ".join(out)


# -- the parts ----------------------------------------------------------------------------

def _declared(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return data


def _refusals(rb: Rulebook) -> list[str]:
    src = source_name(rb)
    return [f"{v.path} ({src}:{v.source_line}): [{v.line}] {v.why}" if v.source_line
            else f"{v.path}: [{v.line}] {v.why}" for v in baseline_violations(rb)]


def _score(rb: Rulebook, n: _Names) -> Section | None:
    if not rb.rules and not rb.attributes:
        return None
    s = rb.scale
    intro = [f"Everyone starts at {points(s.base)}."]
    if s.min is not None and s.max is not None:
        intro.append(f"The score stays between {num(s.min)} and {num(s.max)}.")
    elif s.min is not None:
        intro.append(f"The score never falls below {num(s.min)}.")
    elif s.max is not None:
        intro.append(f"The score never rises above {num(s.max)}.")
    if rb.dimensions:
        dims = []
        for d in rb.dimensions:
            caps = []
            if d.min is not None:
                caps.append(f"takes off at most {points(d.min)}" if d.min < 0
                            else f"never counts less than {points(d.min)}")
            if d.max is not None:
                caps.append(f"adds at most {points(d.max)}" if d.max >= 0
                            else f"always takes off at least {points(d.max)}")
            dims.append(n.dim(d.id) + (f", which {_join(caps)}" if caps else ""))
        intro.append("Records count in " + ("one part" if len(dims) == 1 else
                                            f"{len(dims)} parts") + ": " + "; ".join(dims)
                     + ".")
    if rb.tiers:
        intro.append("Tiers, highest first: " + "; ".join(
            f"{t.id} from {num(t.min)}" for t in rb.tiers) + ".")
    intro.append("Every standing shows each record that counts, its points and the four "
                 "that cost most (the key factors); a date in the future shows when "
                 "records will stop counting.")
    return Section("The score", intro)


def _rule_words(r: Rule, n: _Names, resolutions: str) -> str:
    where = n.dim(r.dimension)
    if r.points is not None:
        verb = "costs" if r.points < 0 else "earns"
        text = f"It {verb} {points(r.points)} in {where}"
    else:
        assert r.points_per_unit is not None
        verb = "costs" if r.points_per_unit < 0 else "earns"
        text = (f"It {verb} {points(r.points_per_unit)} per unit of its value (hours, "
                f"amount…) in {where}")
    if r.half_life is not None:
        text += f", halving {every(r.half_life)}"
    text += (f"; it counts for {days(r.expires)} from when it happened" if r.expires
             is not None else "; it never expires")
    if r.max_count is not None:
        text += f"; only the {r.max_count} most recent count"
    text += "."
    if r.resolved_points is not None:
        if r.resolved_points == 0:
            text += f" Once resolved ({resolutions}), it no longer counts."
        else:
            verb = "costs" if r.resolved_points < 0 else "earns"
            text += f" Once resolved ({resolutions}), it {verb} {points(r.resolved_points)}."
    elif r.may_be_negative():
        text += " Resolving it does not change its points."
    if r.applies_to != "self":
        text += (f" It counts against the subject's {r.applies_to} — a line this system "
                 "does not cross: the engine refuses it.")
    return text


def _resolutions_for(t: RecordType, rb: Rulebook, n: _Names) -> str:
    """The resolution types that plausibly resolve `t` (same category, else same id
    prefix), named as examples: any resolution record that refers to it resolves it."""
    res = [r for r in rb.record_types if r.kind == "resolution"]
    same = [r for r in res if r.category and r.category == t.category] or [
        r for r in res if r.id.split(".", 1)[0] == t.id.split(".", 1)[0]] or res
    names = [n.type(r.id) for r in same]
    return ("a resolution record referring to it, e.g. " + _join(names, "or")) if names \
        else "a resolution record referring to it"


def _record_type(t: RecordType, rb: Rulebook, n: _Names) -> Item:
    text: list[str] = []
    about = f" about {words(t.category)}" if t.category else ""
    ctx = f" (context: {words(t.context)})" if t.context else ""
    if t.kind == "conduct":
        text.append(f"Conduct{about}{ctx}." + (f" Severity: {t.severity}." if t.severity
                                                else ""))
    elif t.kind == "fact":
        text.append(f"A fact{about}{ctx}, replaced by each newer value.")
    elif t.kind == "resolution":
        text.append(f"Resolves a record{about}{ctx}: it refers to the record it resolves "
                    "(a debt paid, a judgment performed); rules then count that record's "
                    "resolved points, and a listing it caused ends.")
    else:
        text.append("Withdraws a record after review: a reviewer — never the provider of "
                    "the record — withdraws a record found wrong, which then counts for "
                    "nothing, as if never recorded.")
    who = _join(list(t.providers)) if t.providers else "no provider role declared"
    ev = "evidence required" if t.evidence == "required" else "evidence optional"
    text.append(f"Reported by: {who}; {ev}.")
    if t.legal_basis:
        text.append(f"Legal basis: {t.legal_basis}.")
    elif t.kind in ("conduct", "fact"):
        text.append("No legal basis declared.")
    resolutions = _resolutions_for(t, rb, n)
    rules = [r for r in rb.rules if r.record == t.id]
    for r in rules:
        text.append(_rule_words(r, n, resolutions))
    attrs = [a for a in rb.attributes if a.record == t.id]
    for a in attrs:
        text.append(_attribute_words(a, n))
    entered = [x for x in rb.lists if x.enter_when.record == t.id]
    for x in entered:
        text.append(f"It puts the subject on {n.list(x.id)} (see Lists).")
    if t.kind in ("conduct", "fact") and not rules and not attrs and not entered:
        text.append("This program neither scores it nor lists anyone for it.")
    return Item(t.id, t.label or t.id, text, _declared(t))


def _attribute_words(a: Attribute, n: _Names) -> str:
    text = (f"Its latest value counts in {n.dim(a.dimension)}: {_bins(a.bins)}. "
            f"With no value")
    text += (f", or one older than {days(a.expires)}" if a.expires is not None else "")
    text += f": {num(a.missing)} points."
    if a.applies_to != "self":
        text += (f" It counts against the subject's {a.applies_to} — the engine refuses "
                 "this.")
    return text


def _list(x: ListDef, rb: Rulebook, n: _Names) -> Item:
    kind = "Blacklist" if x.kind == "black" else "Red list (a reward)"
    text = [f"{kind}; {'public: listings are published' if x.public else 'not public'}."]
    rec = x.enter_when.record
    if rec is not None:
        text.append(f"One enters with each record of {n.type(rec)}.")
    else:
        assert x.enter_when.score_below is not None
        text.append(f"One enters when the score falls below {num(x.enter_when.score_below)}"
                    + (" and stays below it for the whole notice period." if x.notice > 0
                       else "."))
    if x.notice > 0:
        when = "the record is recorded" if rec is not None else "the score falls below"
        text.append(f"Notice: {days(x.notice)}. The subject is notified when {when}, and "
                    "the listing takes effect only after the notice period — time to "
                    "object, pay or correct.")
    else:
        text.append("It takes effect at once, without notice"
                    + (" — for a blacklist, a line this system does not cross: the "
                       "engine refuses it." if x.kind == "black" else "."))
    if rec is not None:
        end = (f"It ends after at most {days(x.max_duration)}" if x.max_duration is not None
               else "It has no maximum duration")
        early = []
        t = rb.types.get(rec)
        if t is not None:
            early.append(f"resolved ({_resolutions_for(t, rb, n)})")
        if any(v.kind == "void" for v in rb.record_types):
            early.append("withdrawn on review")
        if early:
            end += (" — earlier" if x.max_duration is not None else "; it ends") + \
                " when the record is " + _join(early, "or")
        text.append(end + ".")
    else:
        text.append("It ends as soon as the score is back at "
                    f"{num(x.enter_when.score_below or 0)} or more"
                    + (f", and after at most {days(x.max_duration)}"
                       if x.max_duration is not None else "") + ".")
    text.append(f"Legal basis: {x.legal_basis}." if x.legal_basis else
                "No legal basis declared.")
    effects = [c for c in rb.consequences if x.id in (c.when.on_list, c.when.not_on_list)]
    if effects:
        text.append("What it decides: " + "; ".join(
            f"{c.label or c.action} ({c.effect})" for c in effects) + ".")
    if x.applies_to != "self":
        text.append(f"It lists the subject's {x.applies_to} — the engine refuses this.")
    return Item(x.id, x.label or x.id, text, _declared(x))


def _consequence(i: int, c: Consequence, n: _Names) -> Item:
    verb = {"deny": "Denied", "allow": "Allowed", "benefit": "Granted"}[c.effect]
    text = [f"`{c.action}`: {verb.lower()} {condition_words(c, n)}."]
    if c.grant:
        text.append("It gives: " + ", ".join(f"{words(k)}: {_value(v)}"
                                             for k, v in c.grant.items()) + ".")
    who = f"Enforced by {c.provider}" if c.provider else "No enforcing party named"
    text.append(who + (f" (context: {words(c.context)})" if c.context else "")
                + (f"; the measure is a {words(c.category)}" if c.category else "") + ".")
    text.append(f"Legal basis: {c.legal_basis}." if c.legal_basis else
                "No legal basis declared.")
    if c.duration is not None:
        text.append(f"The declaring party states that the measure lasts {days(c.duration)}.")
    if c.applies_to != "self":
        text.append(f"It reaches the subject's {c.applies_to} — a line this system does "
                    "not cross: the engine refuses it.")
    return Item(f"consequences[{i}]", c.label or c.action, text, _declared(c))


def describe(rb: Rulebook) -> Description:
    n = _Names(rb)
    violations = baseline_violations(rb)
    refusals = _refusals(rb)
    summary = [f"Program `{rb.rulebook}`, version {rb.version} (sha256 {rb.sha256[:16]}…). "
               f"It applies to {plural(rb.subjects)}."]
    if refusals:
        crossed = list(dict.fromkeys(v.line for v in violations))
        summary.append(f"THE ENGINE REFUSES TO OPERATE THIS RULEBOOK: {len(refusals)} "
                       f"place(s) in it cross {len(crossed)} of the lines the system does "
                       f"not cross ({'; '.join(crossed)}). It can be read and linted, "
                       "never run.")
    else:
        summary.append("The engine may operate it: it passes the lines the system does not "
                       "cross (every negative record expires and needs evidence and a legal "
                       "basis; blacklists give notice; nobody answers for another).")
    sections: list[Section] = []
    score = _score(rb, n)
    if score is not None:
        sections.append(score)
    elif not rb.lists:
        summary.append("It keeps no score and no list.")
    else:
        summary.append("It keeps no score: it is a list.")
    kinds = [("What is recorded: conduct", "conduct"), ("What is recorded: facts", "fact"),
             ("How records are resolved", "resolution"), ("Review", "void")]
    for title, kind in kinds:
        types = [t for t in rb.record_types if t.kind == kind]
        if types:
            sections.append(Section(title, [], [_record_type(t, rb, n) for t in types]))
    if not any(t.kind == "void" for t in rb.record_types):
        sections.append(Section("Review", ["No withdrawal type is declared: a record found "
                                           "wrong cannot be withdrawn on review."]))
    if rb.lists:
        sections.append(Section("Lists", [], [_list(x, rb, n) for x in rb.lists]))
    if rb.consequences:
        sections.append(Section(
            "What follows", ["What relying parties do, action by action. Any applying "
                             "denial wins; otherwise applying benefits combine; otherwise "
                             "the action is allowed."],
            [_consequence(i, c, n) for i, c in enumerate(rb.consequences)]))
    return Description(rb.rulebook, rb.version, rb.title or rb.rulebook, rb.sha256,
                       list(rb.subjects), not refusals, refusals, summary, sections)


def describe_data(rb: Rulebook) -> dict[str, Any]:
    """The description as JSON-ready data: each item's sentences and its declaration."""
    return asdict(describe(rb))


# -- rendering ----------------------------------------------------------------------------

_TICKS = re.compile(r"`([^`]*)`")


def _plain(text: str) -> str:
    return _TICKS.sub(r"\1", text)


def _para(text: str, indent: str, hanging: str | None = None) -> list[str]:
    return textwrap.wrap(_plain(text), WIDTH, initial_indent=indent,
                         subsequent_indent=indent if hanging is None else hanging,
                         break_on_hyphens=False) or [indent]


def _render_text(d: Description) -> str:
    lines = [d.title, "=" * min(len(d.title), WIDTH)]
    for s in d.summary:
        lines.extend(_para(s, ""))
    for r in d.refusals:
        lines.extend(_para(r, "  - ", "    "))
    for sec in d.sections:
        lines += ["", sec.title.upper()]
        for p in sec.intro:
            lines.extend(_para(p, "  "))
        for item in sec.items:
            head = _plain(item.title) + (f" ({item.id})" if item.id != item.title else "")
            lines += ["", *_para(head, "  ")]
            for p in item.text:
                lines.extend(_para(p, "    "))
    return "\n".join(lines) + "\n"


def _render_markdown(d: Description) -> str:
    lines = [f"# {d.title}"]
    for s in d.summary:
        lines += ["", s if not s.startswith("THE ENGINE") else f"**{s}**"]
    if d.refusals:
        lines += ["", *(f"- {r}" for r in d.refusals)]
    for sec in d.sections:
        lines += ["", f"## {sec.title}"]
        for p in sec.intro:
            lines += ["", p]
        for item in sec.items:
            lines += ["", f"### {item.title}" + (f" (`{item.id}`)" if item.id != item.title
                                                 else ""), ""]
            lines += [f"- {p}" for p in item.text]
    return "\n".join(lines) + "\n"


def describe_rulebook(rb: Rulebook, fmt: Format = "text") -> str:
    """The rulebook in plain words, as text (for a terminal) or markdown (for a page)."""
    d = describe(rb)
    if fmt == "markdown":
        return _render_markdown(d)
    if fmt == "text":
        return _render_text(d)
    raise ValueError(f"unknown format {fmt!r} (text or markdown)")
