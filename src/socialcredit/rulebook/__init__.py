"""Rulebooks: YAML in, a validated immutable model out, with a canonical form and sha256."""

from socialcredit.rulebook.baseline import Violation, baseline_violations, enforce_baseline
from socialcredit.rulebook.loader import load_rulebook, parse_rulebook
from socialcredit.rulebook.model import (
    Attribute,
    Bin,
    Consequence,
    Dimension,
    ListDef,
    RecordType,
    Rule,
    Rulebook,
    Tier,
    When,
)
from socialcredit.rulebook.schema import rulebook_json_schema

__all__ = [
    "Attribute",
    "Bin",
    "Consequence",
    "Dimension",
    "ListDef",
    "RecordType",
    "Rule",
    "Rulebook",
    "Tier",
    "Violation",
    "When",
    "baseline_violations",
    "enforce_baseline",
    "load_rulebook",
    "parse_rulebook",
    "rulebook_json_schema",
]
