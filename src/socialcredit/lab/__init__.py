"""The policy lab: what a rulebook does to a whole society over time, before it happens.

A scenario (YAML) describes a synthetic society; the lab simulates it month by month,
scoring every month with the real batch engine, and reports distributions, mobility,
the underclass, disparate impact, errors and the notice effect. ``diff-impact`` (the
comparison here, the ledger read through the service) shows who would change tier or
list on a real ledger if one rulebook version replaced another. See docs/lab.md.

Imports are lazy so that ``socialcredit`` (which mounts the lab's commands) starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialcredit.lab.api import CompareResult, LabResult, compare, run
    from socialcredit.lab.impact import ImpactComparison, ImpactReport
    from socialcredit.lab.scenario import Scenario, load_scenario, parse_scenario

_EXPORTS = {
    "run": "socialcredit.lab.api", "compare": "socialcredit.lab.api",
    "LabResult": "socialcredit.lab.api", "CompareResult": "socialcredit.lab.api",
    "ImpactComparison": "socialcredit.lab.impact", "ImpactReport": "socialcredit.lab.impact",
    "Scenario": "socialcredit.lab.scenario", "load_scenario": "socialcredit.lab.scenario",
    "parse_scenario": "socialcredit.lab.scenario",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'socialcredit.lab' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = ["CompareResult", "ImpactComparison", "ImpactReport", "LabResult", "Scenario",
           "compare", "load_scenario", "parse_scenario", "run"]
