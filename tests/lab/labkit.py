"""Shared builders for the lab tests: a small rulebook and scenario that exercise every
clause the lab relies on: decay, expiry, max_count, per-unit points, resolutions, voids,
a record list with notice and maximum duration, a score list with notice, tiers, deny
and benefit consequences, and every feedback, error and payment mechanism."""

from __future__ import annotations

from typing import Any

import yaml

from socialcredit.lab.scenario import Scenario, parse_scenario
from socialcredit.rulebook import Rulebook, parse_rulebook

RULEBOOK = """
rulebook: labtest
version: "1"
subjects: [person]
scale: {base: 100, min: 0, max: 200}
dimensions:
  - {id: money, min: -100, max: 50}
  - {id: civic, max: 30}
record_types:
  - {id: arrears, kind: conduct, providers: [bank], evidence: required, legal_basis: law,
     category: financial_obligation, context: finance}
  - {id: default, kind: conduct, providers: [court], evidence: required, legal_basis: law,
     category: court_judgment, context: judicial}
  - {id: volunteer, kind: conduct, providers: [civil], category: civic_merit, context: civic}
  - {id: repaid, kind: resolution, providers: [bank], evidence: required}
  - {id: performed, kind: resolution, providers: [court], evidence: required}
  - {id: void, kind: void, providers: [reviewer], evidence: required}
rules:
  - {record: arrears, dimension: money, points: -15, half_life: 60d, expires: 1y, max_count: 4,
     resolved_points: -5}
  - {record: default, dimension: money, points: -30, expires: 2y, resolved_points: 0}
  - {record: volunteer, dimension: civic, points_per_unit: 1, half_life: 120d, expires: 1y}
tiers:
  - {id: A, min: 110}
  - {id: B, min: 90}
  - {id: C, min: 60}
  - {id: D, min: 0}
lists:
  - {id: defaulters, kind: black, enter_when: {record: default}, notice: 10d,
     max_duration: 1y, legal_basis: law}
  - {id: low_score, kind: black, enter_when: {score_below: 70}, notice: 30d, legal_basis: law}
consequences:
  - {action: loan, context: finance, effect: deny, when: {on_list: low_score}}
  - {action: loan, context: finance, effect: deny, when: {score_below: 80}}
  - {action: loan, context: finance, effect: benefit, grant: {rate: better},
     when: {tier_at_least: A}}
  - {action: travel, context: transport, effect: deny, when: {on_list: defaulters}}
  - {action: bike, context: commerce, effect: benefit, grant: {deposit_waived: true},
     when: {tier_at_least: A}}
  - {action: job, context: employment, effect: deny, when: {score_below: 85,
     not_on_list: defaulters}}
"""

SCENARIO: dict[str, Any] = {
    "scenario": "labtest",
    "population": 2000,
    "months": 36,
    "seed": 7,
    "start": "2027-01-01",
    "heterogeneity": 1.5,
    "groups": [{"id": "a", "share": 0.6, "means": {"low": 0.2, "mid": 0.5, "high": 0.3}},
               {"id": "b", "share": 0.4, "means": {"low": 0.5, "mid": 0.4, "high": 0.1},
                "districts": {"north": 0.2, "south": 0.8}}],
    "districts": [{"id": "north", "share": 0.5}, {"id": "south", "share": 0.5}],
    "means": {"bands": ["low", "mid", "high"], "recovery": 0.05},
    "behaviours": [
        {"id": "arrears", "records": ["finance.bank_arrears", "arrears"], "rate": 0.08,
         "by_means": {"low": 2.0, "mid": 1.0, "high": 0.5}, "payable": True},
        {"id": "default", "records": ["default"], "rate": 0.01, "payable": True,
         "by_district": {"south": 1.5}},
        {"id": "volunteer", "records": ["volunteer"], "rate": 0.1, "units": 6,
         "adverse": False},
        {"id": "unrecorded", "records": ["nothing.reads.this"], "rate": 0.05},
    ],
    "detection": {"rate": 0.9, "by_district": {"south": 0.95}, "reporting_delay": "4d"},
    "errors": {"rate": 0.002, "by_district": {"south": 2.0}},
    "objections": {"share": 0.5, "review_delay": "20d", "upheld": 0.9},
    "payment": {"share": 0.6, "can_pay": {"low": 0.4, "mid": 0.8, "high": 1.0},
                "delay": "12d"},
    "actions": [{"action": "loan", "rate": 0.1}, {"action": "travel", "rate": 0.1},
                {"action": "bike", "rate": 0.1}, {"action": "job", "rate": 0.05}],
    "feedback": [
        {"when": {"action": "loan", "effect": "deny"}, "propensity": {"arrears": 2.0},
         "months": 6},
        {"when": {"action": "job", "effect": "deny"}, "means_down": 0.3},
    ],
}


def scenario(**changes: Any) -> Scenario:
    data = {**SCENARIO, **changes}
    return parse_scenario(yaml.safe_dump(data, sort_keys=False), "test-scenario.yaml")


def rulebook() -> Rulebook:
    return parse_rulebook(RULEBOOK, "labtest.yaml")
