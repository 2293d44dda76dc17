"""Small builders shared by tests."""

from __future__ import annotations

from socialcredit.ledger.model import Record
from socialcredit.rulebook import Rulebook, parse_rulebook
from socialcredit.rulebook.catalogue import Catalogue, parse_catalogue
from socialcredit.timeutil import US_PER_DAY, parse_instant

T0 = parse_instant("2026-01-01T00:00:00Z")


def day(n: float) -> int:
    """T0 + n days, in microseconds."""
    return T0 + round(n * US_PER_DAY)


def rec(record_id: str, type_: str, occurred: float, recorded: float | None = None, *,
        kind: str = "conduct", value: float | str | None = None, ref: str | None = None,
        subject: str = "s1", provider: str = "p") -> Record:
    return Record(record_id, provider, subject, type_, kind, day(occurred),
                  day(occurred if recorded is None else recorded),
                  value if isinstance(value, float | int) else None,
                  value if isinstance(value, str) else None, "ev", ref)


# The allowlist the test rulebooks cite (a rulebook is published only under a catalogue).
TEST_CATALOGUE = """
catalogue: test-catalogue
version: "t1"
items:
  - {id: finance, providers: [bank, court], publicity: public, legal_basis: law}
  - {id: judicial, providers: [court], publicity: public, legal_basis: law}
  - {id: civic, providers: [bank], legal_basis: law}
  - {id: review, providers: [reviewer], legal_basis: law}
  - {id: utilities, providers: [utility], legal_basis: law}
measures:
  - {id: ban, kind: sanction, legal_basis: law}
  - {id: perk, kind: benefit, legal_basis: law}
"""


def catalogue_for_tests() -> Catalogue:
    return parse_catalogue(TEST_CATALOGUE, "test-catalogue.yaml")


BASE = """
rulebook: test
version: "1"
subjects: [person]
scale: {base: 1000, min: 0, max: 1200}
dimensions:
  - {id: money, min: -500, max: 100}
  - {id: civic}
record_types:
  - {id: arrears, kind: conduct, providers: [bank], evidence: required, legal_basis: law,
     category: financial_obligation, context: finance, item: finance, resolved_by: [paid]}
  - {id: bonus, kind: conduct, providers: [bank], evidence: optional, category: civic_merit,
     context: civic, item: civic}
  - {id: hours, kind: conduct, providers: [bank], category: civic_merit, context: civic,
     item: civic}
  - {id: history, kind: fact, providers: [bank], category: credit_history, context: finance,
     evidence: required, legal_basis: law, item: finance}
  - {id: ruling, kind: conduct, providers: [court], evidence: required, legal_basis: law,
     category: court_judgment, context: judicial, item: judicial, resolved_by: [paid]}
  - {id: paid, kind: resolution, providers: [bank, court], evidence: required, item: finance}
  - {id: void, kind: void, providers: [reviewer], evidence: required, item: review}
rules:
  - {record: arrears, dimension: money, points: -10, half_life: 100d, expires: 1y, max_count: 3,
     resolved_points: -4}
  - {record: bonus, dimension: civic, points: 30}
  - {record: hours, dimension: civic, points_per_unit: 0.5}
attributes:
  - record: history
    dimension: money
    bins: [{below: 12, points: -20}, {values: [abc, 99], points: 7}, {below: 36, points: 5},
           {points: 10}]
    missing: -3
tiers:
  - {id: A, min: 1000}
  - {id: B, min: 950}
  - {id: C, min: 0}
lists:
  - id: defaulters
    kind: black
    enter_when: {record: ruling}
    notice: 10d
    max_duration: 100d
    legal_basis: law
consequences:
  - {action: train, context: transport, effect: deny, when: {on_list: defaulters},
     measure: ban}
  - {action: bike, context: commerce, effect: benefit, grant: {deposit_waived: true},
     when: {tier_at_least: A}, measure: perk}
  - {action: bike, context: commerce, effect: benefit, grant: {helmet: free},
     when: {score_at_least: 1005}, measure: perk}
  - {action: loan, context: finance, effect: deny,
     when: {score_below: 960, not_on_list: defaulters}, measure: ban}
catalogue: {id: test-catalogue, version: "t1"}
"""


def base_rulebook(**replace: str) -> Rulebook:
    text = BASE
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return parse_rulebook(text, "base.yaml")
