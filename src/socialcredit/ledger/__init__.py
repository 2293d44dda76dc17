"""The ledger: append-only, bitemporal storage of records from many providers."""

from socialcredit.ledger.model import ProgramVersion, Record, TypeInfo
from socialcredit.ledger.store import Ledger

__all__ = ["Ledger", "ProgramVersion", "Record", "TypeInfo"]
