"""The ledger: append-only, bitemporal storage of records from many providers."""

from socialcredit.ledger.ingest import IngestReport, ingest_file, ingest_text
from socialcredit.ledger.model import ProgramVersion, Record, TypeInfo
from socialcredit.ledger.store import Ledger

__all__ = ["IngestReport", "Ledger", "ProgramVersion", "Record", "TypeInfo", "ingest_file",
           "ingest_text"]
