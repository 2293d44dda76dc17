"""Decisions: may this subject do this action, and on what terms?

Pure: a rulebook and a standing in, an effect, a grant and the reasons out. Like Open
Policy Agent's decisions, each carries a decision id, its input, its result, the policy
revision (rulebook sha256) and its reasons; the service writes it to the decision log
the subject can read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from socialcredit.rulebook.model import Consequence, Rulebook
from socialcredit.scoring.standing import Standing
from socialcredit.timeutil import format_instant


@dataclass(frozen=True)
class Decision:
    decision_id: str
    subject: str
    action: str
    program: str
    effect: str
    grant: dict[str, Any]
    # the reasons, or what builds them: a decision nobody logs or reads the reasons of
    # (an unlogged decision from the table) need not build one dict per condition
    _reasons: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]] = field(
        repr=False, compare=False)
    at: int
    known_at: int
    decided_at: int
    standing: Standing
    source: str = "live"  # or "materialized"
    # asked about another time than now (`--at`): an answer for planning or review,
    # not one a relying party acted on; the decision log says so
    hypothetical: bool = False
    # who asked, why, under which consent grant, and how much the answer may show them
    requester: dict[str, Any] | None = None
    purpose: str | None = None
    grant_id: str | None = None
    disclosure: str = "full"
    # the adverse-action content of a deny (FCRA §615(a)): key factors, source, rights
    adverse_action: dict[str, Any] | None = None
    # what the requester is shown, when it may not see everything (consent scopes)
    disclosed: dict[str, Any] | None = None

    @property
    def reasons(self) -> list[dict[str, Any]]:
        """Why: every consequence for the action, applying ones first, each condition
        with what made it true or false (built on first use)."""
        got = self._reasons
        if callable(got):
            got = got()
            object.__setattr__(self, "_reasons", got)
        return got

    def as_dict(self) -> dict[str, Any]:
        """The decision as its requester may see it."""
        return self.disclosed if self.disclosed is not None else self.body()

    def body(self, reasons: Any = None) -> dict[str, Any]:
        """The whole decision, as the decision log keeps it and the subject reads it
        (`reasons`, when given, stands in for the reasons)."""
        st = self.standing
        extra: dict[str, Any] = {}
        if self.requester is not None:
            extra = {"requester": self.requester, "purpose": self.purpose,
                     "grant_id": self.grant_id, "disclosure": self.disclosure}
        if self.adverse_action is not None:
            extra["adverse_action"] = self.adverse_action
        return {
            "decision_id": self.decision_id,
            "subject": self.subject,
            "action": self.action,
            "program": self.program,
            "effect": self.effect,
            "grant": self.grant,
            "reasons": self.reasons if reasons is None else reasons,
            "at": (at := format_instant(self.at)),
            "known_at": format_instant(self.known_at),
            "decided_at": at if self.decided_at == self.at else format_instant(self.decided_at),
            "score": st.score,
            "tier": st.tier,
            "lists": st.lists,
            "rulebook": st.rulebook.as_dict(),
            "standing_source": self.source,
            "hypothetical": self.hypothetical,
            **extra,
        }


def _holds(key: str, value: Any, rb: Rulebook, st: Standing) -> bool | None:
    """Whether one condition of a `when` holds (None: not a condition this knows)."""
    if key in ("on_list", "not_on_list"):
        on = value in st.lists
        return on if key == "on_list" else not on
    if key == "tier_at_least":
        rank = rb.tier_rank
        # a tier the version in force no longer knows (a stale materialized row) never holds
        return bool(st.tier in rank and rank[st.tier] <= rank[value])
    if key in ("score_at_least", "score_below"):
        return bool(st.score >= value if key == "score_at_least" else st.score < value)
    return None


def _condition(key: str, value: Any, rb: Rulebook, st: Standing) -> dict[str, Any]:
    """One condition of a `when`, with what made it true or false."""
    out: dict[str, Any] = {"condition": key, "value": value}
    holds = _holds(key, value, rb, st)
    if key in ("on_list", "not_on_list"):
        entries = [e.as_dict() for e in st.list_entries if e.list == value]
        out["holds"] = holds
        if entries:
            out["list_entries"] = entries
            out["records"] = [e["record_id"] for e in entries if e["record_id"]]
    elif key == "tier_at_least":
        out["tier"] = st.tier
        out["holds"] = holds
    elif key in ("score_at_least", "score_below"):
        out["score"] = st.score
        out["holds"] = holds
    if key in ("tier_at_least", "score_at_least", "score_below"):
        out["records"] = [c.record_id for c in st.key_factors]
    return out


def evaluate(rb: Rulebook, st: Standing, action: str) -> tuple[str, dict[str, Any],
                                                                  list[dict[str, Any]]]:
    """Any applying deny -> deny; else merged grants of applying benefits -> benefit;
    else allow."""
    applying: list[tuple[int, Consequence]] = []
    reasons: list[dict[str, Any]] = []
    for i, c, when in rb.consequences_by_action.get(action, ()):
        conds = [_condition(k, v, rb, st) for k, v in when]
        holds = all(x["holds"] for x in conds)
        reasons.append({"consequence": i, "action": c.action, "effect": c.effect,
                        "context": c.context, "provider": c.provider,
                        "legal_basis": c.legal_basis, "label": c.label,
                        "applies": holds, "conditions": conds,
                        **({"grant": c.grant} if c.grant else {})})
        if holds:
            applying.append((i, c))
    effect, grant = _effect(applying)
    if not reasons:
        reasons.append({"consequence": None, "action": action, "effect": "allow",
                        "applies": True, "conditions": [],
                        "label": f"program {rb.rulebook} declares no consequence for "
                                 f"{action!r}"})
    # applying reasons first: they are the answer; the rest show what did not apply
    reasons.sort(key=lambda r: not r["applies"])
    return effect, grant, reasons


#: outcomes kept per version at most (distinct (action, tier, lists) seen)
MAX_OUTCOMES = 4096
#: conditions that read the score itself: an outcome that depends on one is not kept
_SCORE_CONDITIONS = frozenset({"score_at_least", "score_below"})


def outcome(rb: Rulebook, st: Standing, action: str) -> tuple[str, dict[str, Any]]:
    """`evaluate`'s effect and grant without its reasons (`evaluate` gives them when they
    are asked for: the same conditions, the same answer).

    The conditions read only the standing's tier, its lists and its score, so where an
    action's conditions do not read the score the outcome is a function of (action,
    tier, lists) under a version: it is kept in the version's memo (a fresh copy of the
    grant each time) and a decision read from the materialized table, whose tier and
    lists rarely change, evaluates no condition."""
    memo = rb.memo
    key = ("outcome", action, st.tier, tuple(st.lists))
    got = memo.get(key)
    if got is None:
        got = _outcome(rb, st, action)
        if not reads_score(rb, action):
            if len(memo) >= MAX_OUTCOMES:
                memo.clear()
            memo[key] = got
    return got[0], dict(got[1])


def reads_score(rb: Rulebook, action: str) -> bool:
    """Whether any of `action`'s conditions reads the score (kept in the version's memo):
    where none does, its outcome and its reasons (key factors and list entries aside)
    are functions of the tier and the lists."""
    key = ("reads_score", action)
    got: bool | None = rb.memo.get(key)
    if got is None:
        got = rb.memo[key] = any(k in _SCORE_CONDITIONS or k not in _KNOWN
                                 for _, _, when in rb.consequences_by_action.get(action, ())
                                 for k, _ in when)
    return got


_KNOWN = frozenset({"on_list", "not_on_list", "tier_at_least"})


def _outcome(rb: Rulebook, st: Standing, action: str) -> tuple[str, dict[str, Any]]:
    applying: list[tuple[int, Consequence]] = []
    for i, c, when in rb.consequences_by_action.get(action, ()):
        holds = [_holds(k, v, rb, st) for k, v in when]
        if None in holds:  # as evaluate: a condition it cannot decide has no "holds"
            raise KeyError("holds")
        if all(holds):
            applying.append((i, c))
    return _effect(applying)


def _effect(applying: list[tuple[int, Consequence]]) -> tuple[str, dict[str, Any]]:
    """Any applying deny -> deny; else merged grants of applying benefits -> benefit;
    else allow."""
    grant: dict[str, Any] = {}
    if any(c.effect == "deny" for _, c in applying):
        effect = "deny"
    elif any(c.effect == "benefit" for _, c in applying):
        effect = "benefit"
        for _, c in applying:
            if c.effect == "benefit" and c.grant:
                grant.update(c.grant)
    else:
        effect = "allow"
    return effect, grant
