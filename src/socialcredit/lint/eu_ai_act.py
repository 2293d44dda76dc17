"""Profile `eu-ai-act`: Regulation (EU) 2024/1689, Art. 5(1)(c) (prohibited social scoring).

Art. 5(1)(c) prohibits, since 2 February 2025 and for public and private actors alike,
AI systems that evaluate or classify natural persons "based on their social behaviour or
known, inferred or predicted personal or personality characteristics, with the social
score leading to either or both of the following:
(i) detrimental or unfavourable treatment of certain natural persons or groups of
persons in social contexts that are unrelated to the contexts in which the data was
originally generated or collected;
(ii) detrimental or unfavourable treatment of certain natural persons or groups of
persons that is unjustified or disproportionate to their social behaviour or its
gravity".

A rulebook makes both questions mechanical: every consequence declares the `context` in
which it treats the subject, every record type the `context` in which its data was
generated, and `severity` says how grave the conduct is. What the linter cannot decide
is whether two differently named contexts are related: it treats them as related only
when they are equal or in one of the groups below, and says so in docs/lint.md.
"""

from __future__ import annotations

from collections import defaultdict

from socialcredit.lint.findings import Emitter, Finding, Severity
from socialcredit.lint.triggers import Trigger, consequence_triggers, source_key
from socialcredit.rulebook.model import Rulebook

PROFILE = "eu-ai-act"
TITLE = "EU AI Act, Art. 5(1)(c): prohibited social scoring"

ART_5_1_C_I = ("EU AI Act Art. 5(1)(c)(i): detrimental or unfavourable treatment \"in social "
               "contexts that are unrelated to the contexts in which the data was originally "
               "generated or collected\"")
ART_5_1_C_II = ("EU AI Act Art. 5(1)(c)(ii): detrimental or unfavourable treatment \"that is "
                "unjustified or disproportionate to their social behaviour or its gravity\"")
ANNEX_III_5_B = ("EU AI Act Art. 6(2) and Annex III, point 5(b): evaluating creditworthiness "
                 "or establishing a credit score is high-risk")

# Contexts treated as one: the same sphere of life under different names. Kept short on
# purpose — every entry widens what the linter accepts, and is documented.
RELATED_GROUPS: tuple[frozenset[str], ...] = (
    frozenset({"finance", "credit", "banking", "lending", "payments"}),
    frozenset({"judicial", "court"}),
    frozenset({"tax", "taxation"}),
    frozenset({"ride_hailing", "rideshare"}),
    frozenset({"nightlife", "venues"}),
)
CREDIT_CONTEXTS = RELATED_GROUPS[0]
# A deny reaching this many distinct contexts from one trigger is a joint sanction: it
# is proportionate, if at all, only to serious conduct.
BREADTH = 3


def related(a: str, b: str) -> bool:
    return a == b or any(a in g and b in g for g in RELATED_GROUPS)


def _fmt(triggers: list[Trigger]) -> str:
    by_ctx: dict[str, list[str]] = defaultdict(list)
    for t in triggers:
        if t.type_id not in by_ctx[t.context or "?"]:
            by_ctx[t.context or "?"].append(t.type_id)
    return "; ".join(f"{ctx} ({', '.join(ids)})" for ctx, ids in sorted(by_ctx.items()))


def check(rb: Rulebook) -> list[Finding]:
    emit = Emitter(rb, PROFILE)
    persons = "person" in rb.subjects
    # Art. 5(1)(c) protects natural persons: for an organizations-only rulebook the
    # findings are reported, but as information.
    err: Severity = "error" if persons else "info"
    warn: Severity = "warning" if persons else "info"
    if not persons:
        emit("AIA-SCOPE", "info", ("subjects",), ART_5_1_C_I,
             "the rulebook scores organizations only; Art. 5(1)(c) protects natural "
             "persons, so its findings below are information (sole traders and the persons "
             "behind a company may still be reached)")

    joint: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(rb.consequences):
        path = ("consequences", i)
        triggers = consequence_triggers(rb, c)
        if c.effect == "allow" or not triggers:
            continue
        if c.context is None:
            emit("AIA-CONTEXT-UNDECLARED", warn, path, ART_5_1_C_I,
                 f"{c.effect} consequence for {c.action!r} declares no `context`: the "
                 "linter cannot tell whether it treats the subject in a context unrelated "
                 "to the data")
            continue
        undeclared = sorted({t.type_id for t in triggers if t.context is None})
        if undeclared:
            emit("AIA-CONTEXT-UNDECLARED", warn, path, ART_5_1_C_I,
                 f"record types {', '.join(undeclared)} can set off {c.action!r} but declare "
                 "no `context`")
        unrelated = [t for t in triggers if t.context and not related(t.context, c.context)]
        if unrelated:
            if c.effect == "deny":
                emit("AIA-5-1-C-I", err, path, ART_5_1_C_I,
                     f"deny {c.action!r} in context {c.context!r} can be set off by data "
                     f"generated in unrelated contexts: {_fmt(unrelated)}")
            else:
                emit("AIA-5-1-C-I-BENEFIT", warn, path, ART_5_1_C_I,
                     f"benefit {c.action!r} in context {c.context!r} depends on data from "
                     f"unrelated contexts ({_fmt(unrelated)}): withholding it from everyone "
                     "else is unfavourable treatment of them")
        if c.effect != "deny":
            continue
        joint[source_key(c)].append(i)
        for t in triggers:
            sev = rb.types[t.type_id].severity if t.type_id in rb.types else None
            if t.direct and sev == "minor":
                emit("AIA-5-1-C-II", err, path, ART_5_1_C_II,
                     f"a single minor record ({t.type_id}) denies {c.action!r} via {t.via}")
            elif t.direct and sev is None:
                emit("AIA-GRAVITY-UNDECLARED", warn, path, ART_5_1_C_II,
                     f"{t.type_id} denies {c.action!r} via {t.via} but declares no "
                     "`severity`: its gravity cannot be weighed against the sanction")
        _minor_accumulation(rb, emit, i, triggers, warn)

    for key, idxs in joint.items():
        contexts = sorted({rb.consequences[i].context or "?" for i in idxs})
        if len(contexts) < BREADTH:
            continue
        first = rb.consequences[idxs[0]]
        sevs = sorted({rb.types[t.type_id].severity or "undeclared"
                       for t in consequence_triggers(rb, first)
                       if t.direct and t.type_id in rb.types})
        what = (f"{len(idxs)} deny consequences on {key} reach {len(contexts)} contexts "
                f"({', '.join(contexts)})")
        if sevs and all(s == "serious" for s in sevs):
            emit("AIA-5-1-C-II-JOINT", "info", ("consequences", idxs[0]), ART_5_1_C_II,
                 f"{what}: a joint sanction, triggered by serious conduct only; each "
                 "agency's sanction still needs its own legal basis and proportionality")
        else:
            emit("AIA-5-1-C-II-JOINT", err, ("consequences", idxs[0]), ART_5_1_C_II,
                 f"{what}, set off by conduct of severity {', '.join(sevs) or 'undeclared'} "
                 "(score-based or not serious): disproportionate to its gravity")

    if persons and any(c.context in CREDIT_CONTEXTS for c in rb.consequences) and any(
            t.context in CREDIT_CONTEXTS for t in rb.record_types):
        emit("AIA-HIGH-RISK", "info", ("consequences",), ANNEX_III_5_B,
             "credit decisions on a score are a high-risk use (not prohibited): risk "
             "management, data governance, logging, transparency and human oversight "
             "(Arts. 9–15) apply")
    return emit.findings


def _minor_accumulation(rb: Rulebook, emit: Emitter, i: int, triggers: list[Trigger],
                        sev: Severity) -> None:
    """Score-based denies: can minor conduct alone bring a subject there? Only rules with
    no `max_count` can accumulate without bound; those are reported."""
    c = rb.consequences[i]
    unbounded = []
    for t in triggers:
        if t.direct or t.path[0] != "rules":
            continue
        rule = rb.rules[int(t.path[1])]
        if rb.types[t.type_id].severity == "minor" and rule.max_count is None:
            unbounded.append(t.type_id)
    if unbounded:
        emit("AIA-5-1-C-II-ACCUMULATION", sev, ("consequences", i), ART_5_1_C_II,
             f"minor records ({', '.join(sorted(set(unbounded)))}) count without `max_count`: "
             f"enough of them alone can deny {c.action!r}; cap them so that minor conduct "
             "cannot add up to a sanction")
