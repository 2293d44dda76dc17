"""The simulated ledger: every record the society produced, as growable NumPy columns.

Records are kept as integer columns (subject code, type code, serial number) because
the lab appends and gathers millions of them a month; they become the engine's Arrow
columns only for the subjects being scored (record ids and subject ids are the
decimal text of those integers, made by Arrow's cast in C++). `type` and `kind` go to
the engine as dictionary arrays, which it reads without hashing a string.

Dead records — past every expiry, list end and fact lifetime the rulebook gives their
type, or voided — can never change a standing again (the contract: an expired record
counts nothing, a listing past its end lists nobody, a void is permanent) and are
pruned so the history the engine re-reads stays bounded by the rulebook's horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.ledger.model import Record
from socialcredit.rulebook.model import Rulebook
from socialcredit.timeutil import US_PER_DAY

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
I16 = npt.NDArray[np.int16]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

KIND_CODES = {"conduct": 0, "fact": 0, "resolution": 1, "void": 2}
NEVER = np.iinfo(np.int64).max


def ceil_days_us(days: float) -> int:
    """Microseconds from an event until `days` have fully elapsed (age ≥ days)."""
    return math.ceil(days * US_PER_DAY)


@dataclass
class Batch:
    """Records to append, all columns the same length."""

    subj: I32
    type: I16
    occ: I64
    rec: I64
    value: F64  # NaN: no value
    ref: I64  # serial of the referenced record, -1: none
    false: Bool  # a provider's error: the subject did not do it
    behaviour: I16  # scenario behaviour index, -1 for resolutions and voids

    def __len__(self) -> int:
        return len(self.subj)

    @staticmethod
    def empty() -> Batch:
        return Batch(np.empty(0, np.int32), np.empty(0, np.int16), np.empty(0, np.int64),
                     np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int64),
                     np.empty(0, np.bool_), np.empty(0, np.int16))

    @staticmethod
    def concat(parts: list[Batch]) -> Batch:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Batch.empty()
        if len(parts) == 1:
            return parts[0]
        return Batch(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    def take(self, idx: I64 | Bool) -> Batch:
        return Batch(*(getattr(self, f)[idx] for f in _FIELDS))


_FIELDS = ("subj", "type", "occ", "rec", "value", "ref", "false", "behaviour")


class RecordStore:
    """Append-only columns (plus pruning), serials ascending in storage order."""

    def __init__(self, rb: Rulebook) -> None:
        self.rb = rb
        self.type_ids = [t.id for t in rb.record_types]
        self.type_index = {t: i for i, t in enumerate(self.type_ids)}
        self.kind_of_type = np.array([KIND_CODES[t.kind] for t in rb.record_types] or [0],
                                     np.int8)
        self._type_dict = pa.array(self.type_ids or [""], pa.string())
        self._kind_dict = pa.array([t.kind for t in rb.record_types] or ["conduct"],
                                   pa.string())
        self.n = 0
        self.next_serial = 0
        cap = 1024
        self.serial = np.empty(cap, np.int64)
        self.subj = np.empty(cap, np.int32)
        self.type = np.empty(cap, np.int16)
        self.occ = np.empty(cap, np.int64)
        self.rec = np.empty(cap, np.int64)
        self.value = np.empty(cap, np.float64)
        self.ref = np.empty(cap, np.int64)
        self.false = np.empty(cap, np.bool_)
        self.voided = np.empty(cap, np.bool_)
        self.behaviour = np.empty(cap, np.int16)
        self.pruned = 0
        # the type of every serial ever given, pruned or not: an exported resolution or
        # void names its target in the target's provider's namespace, which needs the
        # target's type even after the target itself was pruned (2 bytes a record)
        self.type_of_serial = np.empty(cap, np.int16)

    _COLS = ("serial", "subj", "type", "occ", "rec", "value", "ref", "false", "voided",
             "behaviour")

    def _grow(self, need: int) -> None:
        cap = len(self.serial)
        if need <= cap:
            return
        new = max(need, cap * 2)
        for name in self._COLS:
            old = getattr(self, name)
            arr = np.empty(new, old.dtype)
            arr[:self.n] = old[:self.n]
            setattr(self, name, arr)

    def append(self, b: Batch) -> I64:
        """Store a batch; returns the serials given to its records. A void marks its
        target voided (the void is known from now on, and voids are never undone)."""
        m = len(b)
        if m == 0:
            return np.empty(0, np.int64)
        self._grow(self.n + m)
        s = slice(self.n, self.n + m)
        serials = np.arange(self.next_serial, self.next_serial + m, dtype=np.int64)
        self.serial[s] = serials
        self.subj[s] = b.subj
        self.type[s] = b.type
        self.occ[s] = b.occ
        self.rec[s] = b.rec
        self.value[s] = b.value
        self.ref[s] = b.ref
        self.false[s] = b.false
        self.voided[s] = False
        self.behaviour[s] = b.behaviour
        if self.next_serial + m > len(self.type_of_serial):
            grown = np.empty(max(self.next_serial + m, 2 * len(self.type_of_serial)), np.int16)
            grown[:self.next_serial] = self.type_of_serial[:self.next_serial]
            self.type_of_serial = grown
        self.type_of_serial[self.next_serial:self.next_serial + m] = b.type
        self.n += m
        self.next_serial += m
        is_void = self.kind_of_type[b.type] == KIND_CODES["void"]
        if is_void.any():
            rows = self.rows_of_serials(b.ref[is_void])
            self.voided[rows[rows >= 0]] = True
        return serials

    def rows_of_serials(self, serials: I64) -> I64:
        """Storage rows of the given serials (-1 where pruned or unknown)."""
        have = self.serial[:self.n]
        pos = np.searchsorted(have, serials)
        ok = pos < self.n
        ok[ok] = have[pos[ok]] == serials[ok]
        out: I64 = np.where(ok, pos, -1)
        return out

    def rows_of(self, subjects: Bool) -> I64:
        """Rows of every record of the subjects flagged True (indexed by subject code)."""
        out: I64 = np.flatnonzero(subjects[self.subj[:self.n]])
        return out

    def col(self, name: str) -> npt.NDArray[np.generic]:
        arr: npt.NDArray[np.generic] = getattr(self, name)[:self.n]
        return arr

    # -- to the engine ---------------------------------------------------------------

    def engine_table(self, rows: I64) -> pa.Table:
        """The engine's record columns (batch.RECORD_SCHEMA names) for `rows`."""
        value = self.value[rows]
        ref = self.ref[rows]
        tcode = pa.array(self.type[rows].astype(np.int32), pa.int32())
        return pa.table({
            "record_id": pa.array(self.serial[rows]).cast(pa.string()),
            "subject": pa.array(self.subj[rows]).cast(pa.string()),
            "type": pa.DictionaryArray.from_arrays(tcode, self._type_dict),
            "kind": pa.DictionaryArray.from_arrays(tcode, self._kind_dict),
            "occurred_at": pa.array(self.occ[rows]),
            "recorded_at": pa.array(self.rec[rows]),
            "value_num": pa.array(value, pa.float64(), mask=np.isnan(value)),
            "value_text": pa.nulls(len(rows), pa.string()),
            "ref": pa.array(ref, pa.int64(), mask=ref < 0).cast(pa.string()),
        })

    @staticmethod
    def subjects_table(codes: I64, kind: str) -> pa.Table:
        return pa.table({"subject": pa.array(codes).cast(pa.string()),
                         "kind": pa.DictionaryArray.from_arrays(
                             pa.array(np.zeros(len(codes), np.int32)),
                             pa.array([kind], pa.string())).cast(pa.string())})

    def ledger_table(self, rows: I64) -> pa.Table:
        """`rows` in the ledger's Parquet record schema (socialcredit.ledger.parquet.RECORDS,
        what `socialcredit export` writes): providers are `<role>-01` for the type's
        first provider role (reviewers for voids), record ids in their provider's
        namespace as the ledger requires (`court-01:17`; a resolution's or void's `ref`
        in its target's), evidence a `urn:lab:` reference where the type requires it."""
        from socialcredit.ledger.parquet import RECORDS  # lazily: only exports need it

        tcode = self.type[rows].astype(np.int32)
        providers = pa.array([f"{(t.providers or ('reviewer',))[0]}-01"
                              for t in self.rb.record_types] or [""], pa.string())
        prefixes = pc.binary_join_element_wise(providers, ":", "")
        needs = np.array([t.evidence == "required" for t in self.rb.record_types] or [False])
        table = self.engine_table(rows)
        prefix = prefixes.take(pa.array(tcode))
        ids = pc.binary_join_element_wise(prefix, table.column("record_id"), "")
        ref = self.ref[rows]
        has_ref = ref >= 0
        ref_type = np.zeros(len(rows), np.int32)
        ref_type[has_ref] = self.type_of_serial[ref[has_ref]]
        refs = pc.binary_join_element_wise(prefixes.take(pa.array(ref_type)),
                                           table.column("ref"), "")
        evidence = pc.if_else(pa.array(needs[tcode]),
                              pc.binary_join_element_wise("urn:lab:", ids, ""),
                              pa.scalar(None, pa.string()))
        return pa.table({
            "record_id": ids, "provider": providers.take(pa.array(tcode)),
            "subject": table.column("subject"), "type": table.column("type").cast(pa.string()),
            "kind": table.column("kind").cast(pa.string()),
            "occurred_at": table.column("occurred_at"),
            "recorded_at": table.column("recorded_at"),
            "value_num": table.column("value_num"), "value_text": table.column("value_text"),
            "evidence": evidence, "ref": refs,
            # recorded as it happened, none backfilled: learned when recorded
            "ingested_at": pa.nulls(len(rows), pa.int64())}).cast(RECORDS)

    def records(self, rows: I64) -> list[Record]:
        """Record objects (the reference engine's input) for `rows`."""
        out = []
        for i in rows.tolist():
            v = float(self.value[i])
            ref = int(self.ref[i])
            tid = self.type_ids[int(self.type[i])]
            out.append(Record(str(int(self.serial[i])), "lab", str(int(self.subj[i])), tid,
                              self.rb.types[tid].kind, int(self.occ[i]), int(self.rec[i]),
                              None if math.isnan(v) else v, None, "lab",
                              None if ref < 0 else str(ref)))
        return out

    # -- pruning ------------------------------------------------------------------------

    def prune(self, dead: Bool) -> int:
        """Drop the rows flagged dead, and every resolution or void whose target is
        dead or already gone. Returns how many rows went."""
        n = self.n
        kinds = self.kind_of_type[self.type[:n]]
        follows = kinds != 0
        if follows.any():
            tgt = self.rows_of_serials(self.ref[:n][follows])
            gone = np.ones(len(tgt), np.bool_)
            gone[tgt >= 0] = dead[tgt[tgt >= 0]]
            dead = dead.copy()
            dead[np.flatnonzero(follows)[gone]] = True
        keep = np.flatnonzero(~dead)
        m = len(keep)
        for name in self._COLS:
            arr = getattr(self, name)
            arr[:m] = arr[keep]
        self.n = m
        self.pruned += n - m
        return n - m


__all__ = ["NEVER", "Batch", "RecordStore", "ceil_days_us"]
