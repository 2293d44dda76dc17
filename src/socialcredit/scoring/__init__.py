"""Standings: score, dimensions, tier and lists of one subject under one program.

Three engines, one semantics (docs/semantics.md): `reference` (per subject, the
oracle), `batch` (columnar, a whole population on one machine) and `spark` (a cluster).
The service layer reads the ledger and hands records to them.
"""

from socialcredit.scoring.standing import (
    AttributeScore,
    Contribution,
    ListEntry,
    RulebookRef,
    Standing,
)

__all__ = ["AttributeScore", "Contribution", "ListEntry", "RulebookRef", "Standing"]
