"""The batch engine: standings of a whole population at (t, k) in one columnar pass.

Same contract as :mod:`socialcredit.scoring.reference` (docs/semantics.md, "Standing" and
"Lists"), computed over Arrow columns with NumPy instead of per subject in Python.

Technique, and why (measured, see BENCHMARKS.md): subjects are dictionary-encoded
to dense integer codes once, and from then on every clause is an array expression over
records plus a ``np.bincount`` into per-(subject, dimension) cells. That is the shape
of the work: one filter pass, one decay ``exp2``, one weighted bincount. The expensive
operations of the general formulation are avoided rather than optimised:

* max_count needs a ranking inside (subject, rule) groups. A full sort of every record
  is the dominant cost of the DuckDB/Polars formulations (a window function). Here the
  group sizes are counted with a bincount first and only groups larger than their cap
  are sorted, with record ids ranked only within that small subset. On realistic
  ledgers very few groups exceed their cap, so the sort touches a tiny fraction.
* voids and resolutions are found among the records of the subjects that hold one,
  with Arrow's hash ``is_in`` on record_id and then an exact hash join on
  (subject, record_id) of the small candidate set, so a reference can never cross
  subjects even in hand-built ledgers. Record ids, the widest column, are otherwise
  compared only for exact ties, so a source may leave them out of the records and
  give a :data:`RecordIds` to read the few that are needed (the Parquet reader does).
* the latest fact of an attribute is the last element of each subject's run after a
  lexsort of integer keys; exact ties on (occurred_at, recorded_at) fall back to a
  record_id comparison for just those subjects.

DuckDB SQL (window functions, hash aggregates) was measured at roughly 2-3x our time
on two cores, and Polars sits between; both spend most of their time on the window
ranking and on hashing string keys that the integer codes avoid.

Memory is bounded by scoring in partitions of subjects (see
:mod:`socialcredit.scoring.partitions`); a partition is self-contained because every
reference (void, resolution) stays within one subject, which ingest enforces.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.ledger.model import ProgramVersion, Record
from socialcredit.rulebook.model import Bin, Rulebook
from socialcredit.scoring import exact_batch
from socialcredit.scoring.exact_batch import Detail
from socialcredit.timeutil import US_PER_DAY, days_to_us

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

#: The columns the engine reads. provider and evidence are not needed to score.
RECORD_SCHEMA = pa.schema([
    ("record_id", pa.string()),
    ("subject", pa.string()),
    ("type", pa.string()),
    ("kind", pa.string()),
    ("occurred_at", pa.int64()),
    ("recorded_at", pa.int64()),
    ("value_num", pa.float64()),
    ("value_text", pa.string()),
    ("ref", pa.string()),
    ("ingested_at", pa.int64()),
])
SUBJECT_SCHEMA = pa.schema([("subject", pa.string()), ("kind", pa.string())])

#: Record ids of rows of a partition's records table, read only when asked for. A
#: source may leave record_id out of the table (it is the widest column and needed
#: only for the targets of voids and resolutions and for exact ties): the engine asks
#: for the few rows it compares.
RecordIds = Callable[[npt.NDArray[np.int64]], pa.Array]

_NONE = np.iinfo(np.int64).max  # "no resolution" / "no end"
_OTHER, _RESOLUTION, _VOID = 0, 1, 2


def dimension_column(dim_id: str) -> str:
    """Dimensions become columns ``dim_<id>`` so an id can never shadow ``score``."""
    return f"dim_{dim_id}"


def output_schema(rb: Rulebook, *, terms: bool = False) -> pa.Schema:
    """The standings' columns; with `terms`, those of an exact materialized row too."""
    return pa.schema([
        ("subject", pa.string()),
        ("subject_kind", pa.string()),
        ("score", pa.float64()),
        ("tier", pa.string()),
        *[(dimension_column(d.id), pa.float64()) for d in rb.dimensions],
        ("lists", pa.list_(pa.string())),
        *([("terms", pa.string()), ("valid_until", pa.int64())] if terms else []),
    ])


def records_to_table(records: Iterable[Record]) -> pa.Table:
    """Record objects -> the engine's columns (tests and small refreshes)."""
    rs = list(records)
    return pa.table({
        "record_id": pa.array([r.record_id for r in rs], pa.string()),
        "subject": pa.array([r.subject for r in rs], pa.string()),
        "type": pa.array([r.type for r in rs], pa.string()),
        "kind": pa.array([r.kind for r in rs], pa.string()),
        "occurred_at": pa.array([r.occurred_at for r in rs], pa.int64()),
        "recorded_at": pa.array([r.recorded_at for r in rs], pa.int64()),
        "value_num": pa.array([r.value_num for r in rs], pa.float64()),
        "value_text": pa.array([r.value_text for r in rs], pa.string()),
        "ref": pa.array([r.ref for r in rs], pa.string()),
        "ingested_at": pa.array([r.ingested_at for r in rs], pa.int64()),
    }, schema=RECORD_SCHEMA)


def subjects_to_table(subjects: Iterable[tuple[str, str | None]]) -> pa.Table:
    pairs = list(subjects)
    return pa.table({"subject": pa.array([s for s, _ in pairs], pa.string()),
                     "kind": pa.array([k for _, k in pairs], pa.string())},
                    schema=SUBJECT_SCHEMA)


def relevant_types(rb: Rulebook) -> list[str]:
    """Types a standing under rb reads besides voids and resolutions (pushdown filter)."""
    return sorted(rb.scored_types | rb.list_types)


# -- compiled rulebook -----------------------------------------------------------------

@dataclass(frozen=True)
class Compiled:
    """The rulebook as parameter arrays indexed by rule, so clauses vectorise."""

    types: list[str]  # type index -> id, for every type a rule/attribute/list names
    type_index: dict[str, int]
    passes: list[npt.NDArray[np.int32]]  # passes[j][type] = j-th rule of that type, or -1
    points: F64
    per_unit: Bool
    ppu: F64
    half_life: F64  # inf = no decay
    expires: F64  # inf = never
    max_count: I64  # 0 = no cap
    resolved_points: F64  # nan = none
    dim: npt.NDArray[np.int32]
    n_dims: int


def compile_rulebook(rb: Rulebook) -> Compiled:
    names = relevant_types(rb)
    index = {n: i for i, n in enumerate(names)}
    by_type: dict[int, list[int]] = {}
    for i, rl in enumerate(rb.rules):
        by_type.setdefault(index[rl.record], []).append(i)
    depth = max((len(v) for v in by_type.values()), default=0)
    passes = []
    for j in range(depth):
        arr = np.full(len(names), -1, np.int32)
        for ti, idxs in by_type.items():
            if j < len(idxs):
                arr[ti] = idxs[j]
        passes.append(arr)
    dims = {d.id: i for i, d in enumerate(rb.dimensions)}
    rules = rb.rules
    return Compiled(
        types=names, type_index=index, passes=passes,
        points=np.array([r.points if r.points is not None else 0.0 for r in rules], np.float64),
        per_unit=np.array([r.points_per_unit is not None for r in rules], np.bool_),
        ppu=np.array([r.points_per_unit or 0.0 for r in rules], np.float64),
        half_life=np.array([r.half_life if r.half_life is not None else math.inf
                            for r in rules], np.float64),
        expires=np.array([r.expires if r.expires is not None else math.inf for r in rules],
                         np.float64),
        max_count=np.array([r.max_count or 0 for r in rules], np.int64),
        resolved_points=np.array([r.resolved_points if r.resolved_points is not None
                                  else math.nan for r in rules], np.float64),
        dim=np.array([dims[r.dimension] for r in rules], np.int32),
        n_dims=len(rb.dimensions))


@dataclass(frozen=True)
class Mitior:
    """No retroactive punishment, as arrays: for each version of the program (published
    by k, ordered as pick_version orders them) the counterpart of each rule of the
    version in force at t (the n-th rule on the same type; reference.counterpart) and
    of each of its lists. A record is placed in the version in force when it occurred
    by a binary search over the effective times; its contribution is the larger of the
    two versions' (the more favourable to the subject)."""

    effective: I64  # (V,) effective_at, ascending (ties: publication order)
    same: Bool  # (V,) that version is the one in force at t (nothing to compare)
    has: Bool  # (V, R) a counterpart rule exists
    points: F64
    per_unit: Bool
    ppu: F64
    half_life: F64
    expires: F64
    resolved_points: F64
    list_has: Bool  # (V, L) the list exists there, entered by the same record type
    list_notice: F64  # days
    list_max: F64  # days, inf = none

    def version_of(self, occ: I64) -> I64:
        """Per record: index of the version in force when it occurred, −1 if none."""
        if len(self.effective) <= 4:  # a few comparisons beat a binary search per record
            count = np.zeros(len(occ), np.int64)
            for e in self.effective:
                count += occ >= e
            return count - 1
        out: I64 = np.searchsorted(self.effective, occ, side="right").astype(np.int64) - 1
        return out


def compile_mitior(rb: Rulebook, history: Sequence[ProgramVersion] | None, k: int
                   ) -> Mitior | None:
    """The arrays of lex mitior for rb (in force at t) and the versions published by k;
    None without a history (every record judged by rb alone)."""
    if not history:
        return None
    from socialcredit.scoring.reference import counterpart

    known = sorted((pv for pv in history if pv.published_at <= k),
                   key=lambda pv: (pv.effective_at, pv.seq))
    n_v, n_r, n_l = len(known), len(rb.rules), len(rb.lists)
    has = np.zeros((n_v, n_r), bool)
    pts, ppu, hl, exp, rp = (np.zeros((n_v, n_r)), np.zeros((n_v, n_r)),
                             np.full((n_v, n_r), math.inf), np.full((n_v, n_r), math.inf),
                             np.full((n_v, n_r), math.nan))
    per_unit = np.zeros((n_v, n_r), bool)
    list_has = np.zeros((n_v, n_l), bool)
    list_notice = np.zeros((n_v, n_l))
    list_max = np.full((n_v, n_l), math.inf)
    for v, pv in enumerate(known):
        other = pv.rulebook
        for i in range(n_r):
            old = counterpart(rb, i, other)
            if old is None:
                continue
            has[v, i] = True
            pts[v, i] = old.points if old.points is not None else 0.0
            per_unit[v, i] = old.points_per_unit is not None
            ppu[v, i] = old.points_per_unit or 0.0
            hl[v, i] = old.half_life if old.half_life is not None else math.inf
            exp[v, i] = old.expires if old.expires is not None else math.inf
            rp[v, i] = old.resolved_points if old.resolved_points is not None else math.nan
        for li, x in enumerate(rb.lists):
            y = next((y for y in other.lists if y.id == x.id
                      and y.enter_when.record == x.enter_when.record), None)
            if y is not None:
                list_has[v, li] = True
                list_notice[v, li] = y.notice
                list_max[v, li] = y.max_duration if y.max_duration is not None else math.inf
    return Mitior(np.array([pv.effective_at for pv in known], np.int64),
                  np.array([pv.rulebook.sha256 == rb.sha256 for pv in known], bool),
                  has, pts, per_unit, ppu, hl, exp, rp, list_has, list_notice, list_max)


# -- the prepared partition --------------------------------------------------------------

@dataclass
class _Prepared:
    """One partition's records after the k-only clauses, as dense arrays.

    Everything here depends on k (and on which subjects the program applies to) but
    not on t, so score lists can re-score the same partition at t − notice cheaply.
    String columns stay in Arrow and are gathered only for the few rows that need
    them (ties, resolutions, attribute values): copying every record id would cost
    more than all of the arithmetic.
    """

    subjects: pa.Array  # code -> subject id
    subject_kind: pa.Array
    applies: Bool  # per subject
    table: pa.Table  # records known at k of applying subjects
    scode_t: npt.NDArray[np.int32]  # subject code per table row
    # live records (not voided, not void/resolution, of a type the rulebook reads):
    rows: I64  # their rows in `table`
    scode: npt.NDArray[np.int32]
    tcode: npt.NDArray[np.int32]  # index into Compiled.types
    occ: I64
    rec: I64
    known: I64  # when this ledger knew it: max(recorded_at, ingested_at)
    value0: F64  # value_num with null -> 0 (points_per_unit × missing value = 0)
    # known, non-voided resolutions: (subject code, ref, occurred_at), any occurred_at
    res_subj: npt.NDArray[np.int32]
    res_ref: pa.Array
    res_occ: I64
    # every row of `table`, for the instants at which a standing changes (exact terms)
    kcode_t: npt.NDArray[np.int8]
    tcode_t: npt.NDArray[np.int32]
    occ_t: I64
    rec_t: I64
    known_t: I64
    ids_t: RecordIds  # record ids of rows of `table`

    def ids(self, sel: I64) -> pa.Array:
        """Record ids of the live records `sel` (positions into `rows`)."""
        return self.ids_t(self.rows[sel])

    def col(self, name: str, sel: I64) -> pa.Array:
        """Column `name` of the live records `sel` (positions into `rows`)."""
        c = self.table.column(name)
        return c.take(pa.array(self.rows[sel])).combine_chunks()


def _subject_codes(records: pa.Table, subjects: pa.Table | None
                   ) -> tuple[npt.NDArray[np.int32], pa.Array, pa.Array]:
    """Dense codes for the subjects of a partition: the subjects table first (so a
    subject with no relevant record still gets a standing), then any unseen record
    subject (kind unknown: the program does not apply)."""
    rec_subj = records.column("subject")
    if subjects is not None and subjects.num_rows:
        subj_col = subjects.column("subject").combine_chunks()
        kind_col = subjects.column("kind").combine_chunks()
        idx = pc.index_in(rec_subj, value_set=subj_col)
        if idx.null_count == 0 and len(pc.unique(subj_col)) == len(subj_col):
            codes = idx.combine_chunks().to_numpy(zero_copy_only=False).astype(np.int32) \
                if isinstance(idx, pa.ChunkedArray) else idx.to_numpy(
                    zero_copy_only=False).astype(np.int32)
            return codes, subj_col, kind_col.cast(pa.string())
        both = pa.concat_arrays([subj_col, rec_subj.combine_chunks()
                                 if isinstance(rec_subj, pa.ChunkedArray) else rec_subj])
    else:
        subj_col = pa.array([], pa.string())
        both = (rec_subj.combine_chunks() if isinstance(rec_subj, pa.ChunkedArray)
                else rec_subj)
    enc = both.dictionary_encode()
    codes = enc.indices.to_numpy(zero_copy_only=False).astype(np.int32)
    universe = enc.dictionary
    kinds = pa.nulls(len(universe), pa.string())
    if subjects is not None and subjects.num_rows:
        n = len(subj_col)
        kind_np = np.full(len(universe), None, dtype=object)
        kind_np[codes[:n]] = subjects.column("kind").combine_chunks().cast(
            pa.string()).to_numpy(zero_copy_only=False)
        kinds = pa.array(kind_np, pa.string())
        codes = codes[n:]
    return codes, universe, kinds


def _encoded(col: pa.ChunkedArray | pa.Array) -> pa.DictionaryArray:
    """A dictionary-encoded column (free when Parquet was read with dictionaries)."""
    if isinstance(col, pa.ChunkedArray):
        if pa.types.is_dictionary(col.type):
            t = pa.table({"c": col}).unify_dictionaries()
            col = t.column("c")
            if col.num_chunks == 0:
                return pa.array([], col.type.value_type).dictionary_encode()
            return pa.chunked_array(col.chunks, col.type).combine_chunks()
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        return col
    return col.dictionary_encode()


def _kind_codes(kind: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.int8]:
    enc = _encoded(kind)
    lut = np.array([_VOID if k == "void" else _RESOLUTION if k == "resolution" else _OTHER
                    for k in enc.dictionary.to_pylist()] or [0], np.int8)
    idx = enc.indices.fill_null(0).to_numpy(zero_copy_only=False)
    out: npt.NDArray[np.int8] = lut[idx]
    return out


def _type_codes(types: pa.ChunkedArray | pa.Array, comp: Compiled) -> npt.NDArray[np.int32]:
    enc = _encoded(types)
    lut = np.array([comp.type_index.get(t, -1) for t in enc.dictionary.to_pylist()] or [-1],
                   np.int32)
    out: npt.NDArray[np.int32] = lut[enc.indices.fill_null(0).to_numpy(zero_copy_only=False)]
    return out


def _match_refs(ids: RecordIds, scode: npt.NDArray[np.int32], n_subj: int, ref: pa.Array,
                ref_subj: npt.NDArray[np.int32]) -> tuple[I64, I64]:
    """Pairs (record row, ref row) where ref == record_id on the same subject.

    Only records of subjects that hold a reference can match, so only their ids are
    read; a hash probe of those against the (few) refs, then an exact join of the
    candidates on (subject, id)."""
    if len(ref) == 0 or len(scode) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    holds = np.zeros(n_subj, bool)
    holds[ref_subj] = True
    cand = np.flatnonzero(holds[scode])
    if len(cand) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    cand_ids = _string(ids(cand))
    hits = pc.is_in(cand_ids, value_set=pc.unique(ref)).to_numpy(zero_copy_only=False)
    sel = np.flatnonzero(hits)
    if len(sel) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    cand = cand[sel]
    left = pa.table({"s": pa.array(scode[cand]), "id": cand_ids.take(pa.array(sel)),
                     "row": pa.array(cand, pa.int64())})
    right = pa.table({"s": pa.array(ref_subj), "id": ref.cast(pa.string()),
                      "rrow": pa.array(np.arange(len(ref)), pa.int64())})
    j = left.join(right, keys=["s", "id"], join_type="inner")
    return (j.column("row").to_numpy().astype(np.int64),
            j.column("rrow").to_numpy().astype(np.int64))


def _string(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One plain string array."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.type != pa.string():
        values = values.cast(pa.string())
    return values


def _column_ids(table: pa.Table) -> RecordIds:
    col = table.column("record_id")
    return lambda rows: col.take(pa.array(rows, pa.int64()))


def _known(table: pa.Table, rec: I64 | None = None) -> I64:
    """max(recorded_at, ingested_at) per row; `rec`: recorded_at already as NumPy."""
    if rec is None:
        rec = table.column("recorded_at").to_numpy()
    if "ingested_at" not in table.column_names:
        return rec
    ing = table.column("ingested_at")
    if ing.null_count == len(ing):
        return rec
    out: I64 = np.maximum(rec, ing.fill_null(np.iinfo(np.int64).min).to_numpy())
    return out


def _prepare(rb: Rulebook, comp: Compiled, records: pa.Table, subjects: pa.Table | None,
             k: int, by_knowledge: bool = False, record_ids: RecordIds | None = None
             ) -> _Prepared:
    if "ingested_at" not in records.column_names:  # older exports: recorded_at is it
        records = records.append_column("ingested_at", pa.nulls(records.num_rows, pa.int64()))
    if "record_id" in records.column_names:
        record_ids = _column_ids(records)
    elif record_ids is None:
        raise ValueError("records without record_id need a record_ids source")
    records = records.select([n for n in RECORD_SCHEMA.names if n != "record_id"])
    scode_all, universe, kinds = _subject_codes(records, subjects)
    # from here on subjects are codes: their strings would only be copied by every take
    records = records.drop_columns(["subject"])
    applies = pc.is_in(kinds, value_set=pa.array(list(rb.subjects), pa.string())).fill_null(
        False).to_numpy(zero_copy_only=False)
    rec_col = records.column("recorded_at").to_numpy()
    rec_all = _known(records, rec_col) if by_knowledge else rec_col
    # clause 1 (the program applies to the subject's kind) and clause 2 (recorded ≤ k;
    # by_knowledge: what this ledger knew by k, for notice)
    keep = (rec_all <= k) & applies[scode_all]
    source = record_ids
    if keep.all():
        t, scode, ids_t = records, scode_all, source
    else:
        kept = np.flatnonzero(keep)
        t, scode = records.take(pa.array(kept)), scode_all[keep]

        def ids_t(rows: I64) -> pa.Array:
            return source(kept[rows])
    kcode = _kind_codes(t.column("kind"))
    refs = t.column("ref")
    has_ref = (kcode != _OTHER) & refs.is_valid().to_numpy(zero_copy_only=False)
    # clause 3: a void known at k withdraws its target, whatever the void's occurred_at
    vrows = np.flatnonzero(has_ref & (kcode == _VOID))
    voided = np.zeros(len(scode), bool)
    if len(vrows):
        vref = refs.take(pa.array(vrows)).combine_chunks()
        hit, _ = _match_refs(ids_t, scode, len(universe), vref, scode[vrows])
        voided[hit] = True
    live = ~voided
    rrows = np.flatnonzero(live & has_ref & (kcode == _RESOLUTION))
    tcode = _type_codes(t.column("type"), comp)
    use = live & (kcode == _OTHER) & (tcode >= 0)
    occ_all = t.column("occurred_at").to_numpy()
    rec_t = rec_col if t is records else t.column("recorded_at").to_numpy()
    known_t = _known(t, rec_t)
    value_num = t.column("value_num")
    value_all = (None if value_num.null_count == len(value_num)
                 else value_num.fill_null(0.0).to_numpy())
    if use.all():  # the usual case: no gathers, the live arrays are the table's
        rows = np.arange(len(use))
        value0 = np.zeros(len(rows)) if value_all is None else value_all
        live_cols = scode, tcode, occ_all, rec_t, known_t
    else:
        rows = np.flatnonzero(use)
        value0 = np.zeros(len(rows)) if value_all is None else value_all[rows]
        live_cols = scode[rows], tcode[rows], occ_all[rows], rec_t[rows], known_t[rows]
    return _Prepared(
        subjects=universe, subject_kind=kinds, applies=applies, table=t, scode_t=scode,
        rows=rows, scode=live_cols[0], tcode=live_cols[1], occ=live_cols[2],
        rec=live_cols[3], known=live_cols[4], value0=value0,
        res_subj=scode[rrows], res_ref=refs.take(pa.array(rrows)).combine_chunks(),
        res_occ=occ_all[rrows], kcode_t=kcode, tcode_t=tcode, occ_t=occ_all, rec_t=rec_t,
        known_t=known_t, ids_t=ids_t)


# -- scoring at t ----------------------------------------------------------------------------

def _first_resolution(p: _Prepared, t: int) -> I64:
    """Per live record: occurred_at of its first resolution (occurred ≤ t), or _NONE."""
    out = np.full(len(p.occ), _NONE, np.int64)
    ok = np.flatnonzero(p.res_occ <= t)
    if len(ok) == 0:
        return out
    rows_t, rrows = _match_refs(p.ids_t, p.scode_t, len(p.subjects),
                                p.res_ref.take(pa.array(ok)), p.res_subj[ok])
    pos = np.full(p.table.num_rows, -1, np.int64)
    pos[p.rows] = np.arange(len(p.rows))
    at = pos[rows_t]
    mine = at >= 0  # resolutions of records this program reads
    np.minimum.at(out, at[mine], p.res_occ[ok][rrows[mine]])
    return out


def _rank_strings(values: pa.Array) -> I64:
    """Rank of each string in code-point order (UTF-8 byte order is code-point order)."""
    order = pc.sort_indices(values).to_numpy()
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _apply_max_count(p: _Prepared, comp: Compiled, rows: I64, rule: npt.NDArray[np.int32],
                     ) -> Bool:
    """Which of the counting records `rows` (of rules `rule`) survive max_count: the N
    latest by (occurred_at, record_id) per (subject, rule). Only over-full groups are
    sorted."""
    keep = np.ones(len(rows), bool)
    cap = comp.max_count[rule]
    capped = np.flatnonzero(cap > 0)
    if len(capped) == 0:
        return keep
    n_rules = len(comp.max_count)
    group = p.scode[rows[capped]].astype(np.int64) * n_rules + rule[capped]
    # Group sizes, found in two steps: a bincount over a hash of the group (a table
    # about twice the number of rows: collisions only overcount, so a row whose
    # bucket holds at most its cap is in a group within its cap), then exact counts
    # of the few remaining candidates. A bincount over every possible (subject, rule)
    # cell was a table of subjects × rules, mostly empty: 11 % of the engine's time.
    cap_c = cap[capped]
    size = 1 << max(10, int(2 * len(group)).bit_length())
    mixed = (group * np.int64(-7046029254386353131)) >> np.int64(64 - size.bit_length() + 1)
    bucket = mixed & np.int64(size - 1)
    maybe = np.flatnonzero(np.bincount(bucket, minlength=size)[bucket] > cap_c)
    if len(maybe) == 0:
        return keep
    _, inverse, cnt = np.unique(group[maybe], return_inverse=True, return_counts=True)
    over = maybe[cnt[inverse.ravel()] > cap_c[maybe]]
    if len(over) == 0:
        return keep
    sub = capped[over]
    g = group[over]
    occ = p.occ[rows[sub]]
    cap_s = cap[sub]
    order = np.lexsort((-occ, g))
    pos = _position_in_run(g[order])
    # record ids decide only between records of one group with the same occurred_at
    # on both sides of the cap: rank just those (ids of every record were the widest
    # column the engine read, for ties that almost never occur)
    gs, os_ = g[order], occ[order]
    cut = np.flatnonzero(pos == cap_s[order])  # the first record dropped (pos ≥ 1)
    cut = cut[os_[cut] == os_[cut - 1]]
    if len(cut):
        run = np.cumsum(np.r_[True, (gs[1:] != gs[:-1]) | (os_[1:] != os_[:-1])])
        tied = order[np.isin(run, run[cut])]
        rid_rank = np.zeros(len(sub), np.int64)
        rid_rank[tied] = _rank_strings(_string(p.ids(rows[sub[tied]])))
        order = np.lexsort((-rid_rank, -occ, g))
        pos = _position_in_run(g[order])
    drop = order[pos >= cap_s[order]]
    keep[sub[drop]] = False
    return keep


def _position_in_run(sorted_keys: I64) -> I64:
    """Each element's position within its run of equal keys."""
    n = len(sorted_keys)
    start = np.r_[0, np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1]
    out: I64 = np.arange(n) - np.repeat(start, np.diff(np.r_[start, n]))
    return out


def float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _bin_points(bins: Sequence[Bin], missing: float, value_num: pa.Array,
                value_text: pa.Array) -> F64:
    """Vectorised `_bin_for` of the reference: bins in order; `below` matches numbers
    below it, `values` matches listed values (numbers and numeric text compare as
    numbers), a bin with neither matches anything; unmatched -> missing."""
    n = len(value_num)
    is_num = value_num.is_valid().to_numpy(zero_copy_only=False)
    num = value_num.fill_null(math.nan).to_numpy(zero_copy_only=False)
    is_text = ~is_num & value_text.is_valid().to_numpy(zero_copy_only=False)
    texts = value_text.fill_null("").to_numpy(zero_copy_only=False).astype(object)
    parsed = np.full(n, math.nan)
    if is_text.any():
        cache: dict[str, float | None] = {}
        for i in np.flatnonzero(is_text):
            s = texts[i]
            if s not in cache:
                cache[s] = float_or_none(s)
            f = cache[s]
            if f is not None:
                parsed[i] = f
    out = np.full(n, missing, float)
    done = np.zeros(n, bool)
    for b in bins:
        if b.below is not None:
            m = is_num & (num < b.below)
        elif b.values is not None:
            nums = [v for v in b.values if not isinstance(v, str)]
            strs = [v for v in b.values if isinstance(v, str)]
            num_set = nums + [f for f in (float_or_none(s) for s in strs) if f is not None]
            m = is_num & np.isin(num, np.array(num_set, float))
            m |= is_text & (np.isin(texts, np.array(strs, dtype=object))
                            | np.isin(parsed, np.array(nums, float)))
        else:
            m = np.ones(n, bool)
        m &= ~done
        out[m] = b.points
        done |= m
    return out


def _latest_per_subject(p: _Prepared, rows: I64) -> I64:
    """Among `rows`, the latest per subject by (occurred_at, recorded_at, record_id)."""
    sc, oc, rc = p.scode[rows], p.occ[rows], p.rec[rows]
    order = np.lexsort((rc, oc, sc))
    sc_o = sc[order]
    last = np.r_[np.flatnonzero(sc_o[1:] != sc_o[:-1]), len(sc_o) - 1]
    chosen = order[last]
    # exact ties on (occurred_at, recorded_at) with the runner-up: compare record ids
    prev = last - 1
    tie = (prev >= 0) & (sc_o[np.maximum(prev, 0)] == sc_o[last])
    tie &= (oc[order[np.maximum(prev, 0)]] == oc[chosen]) & (
        rc[order[np.maximum(prev, 0)]] == rc[chosen])
    if tie.any():
        runs: list[tuple[int, I64]] = []
        for j in np.flatnonzero(tie):
            end = last[j]
            i = end
            key = (oc[order[end]], rc[order[end]])
            while i > 0 and sc_o[i - 1] == sc_o[end] and (oc[order[i - 1]],
                                                          rc[order[i - 1]]) == key:
                i -= 1
            runs.append((int(j), order[i:end + 1]))
        tied = np.concatenate([c for _, c in runs])
        ids = dict(zip(tied.tolist(), p.ids(rows[tied]).to_pylist(), strict=True))
        for at, cands in runs:
            chosen[at] = max(cands.tolist(), key=lambda c: ids[c])
    return rows[chosen]


@dataclass
class _Scores:
    dims: F64  # (S, D), clamped
    score: F64


def _points(per_unit: Bool, ppu: F64, points: F64, rp: F64, value0: F64,
            resolved_any: Bool) -> F64:
    """A record's points under a rule before decay (reference.rule_contribution)."""
    pts = np.where(per_unit, ppu * value0, points) if per_unit.any() else points
    if not resolved_any.any():
        return pts
    out: F64 = np.where(resolved_any & ~np.isnan(rp), rp, pts)
    return out


def _contribution(per_unit: Bool, ppu: F64, points: F64, rp: F64, hl: F64, value0: F64,
                  resolved_any: Bool, age: F64) -> F64:
    pts = _points(per_unit, ppu, points, rp, value0, resolved_any)
    decayed = np.isfinite(hl)
    if decayed.all():
        every: F64 = pts * np.exp2(-age / hl)
        return every
    out: F64 = np.where(decayed, pts * np.exp2(-age / np.where(decayed, hl, 1.0)), pts)
    return out


def _score_at(rb: Rulebook, comp: Compiled, p: _Prepared, t: int,
              mitior: Mitior | None = None, detail: Detail | None = None
              ) -> tuple[_Scores, I64]:
    """Scores at t; `detail`, when given, receives what the exact terms need."""
    n_subj = len(p.subjects)
    n_dims = comp.n_dims
    sums = np.zeros(n_subj * n_dims, float)
    at_t = p.occ <= t  # clause 2, valid time
    age = (t - p.occ) / US_PER_DAY
    first_res = _first_resolution(p, t)
    version = mitior.version_of(p.occ) if mitior is not None else None
    for rule_of_type in comp.passes:
        rule = rule_of_type[p.tcode]
        counts = (rule >= 0) & at_t
        if counts.all():
            rows, a = np.arange(len(rule)), age
        else:
            rows = np.flatnonzero(counts)
            rule, a = rule[rows], age[rows]
        ok = a < comp.expires[rule]  # clause 4
        if not ok.all():
            rows, rule, a = rows[ok], rule[ok], a[ok]
        keep = _apply_max_count(p, comp, rows, rule)
        if not keep.all():
            rows, rule, a = rows[keep], rule[keep], a[keep]
        resolved_any = (first_res[rows] != _NONE if len(p.res_occ)
                        else np.zeros(len(rows), bool))
        contrib = _contribution(comp.per_unit[rule], comp.ppu[rule], comp.points[rule],
                                comp.resolved_points[rule], comp.half_life[rule],
                                p.value0[rows], resolved_any, a)
        hl_used = comp.half_life[rule] if detail is not None else None
        if mitior is not None and version is not None:
            v = version[rows]
            other = (v < 0) if mitior.same.all() else (v < 0) | ~mitior.same[np.maximum(v, 0)]
            if other.any():
                # lex mitior: the rule in force when it occurred, unless rb's is milder
                sel = np.flatnonzero(other)
                vj, rj = np.maximum(v[sel], 0), rule[sel]
                exists = (v[sel] >= 0) & mitior.has[vj, rj]
                old = _contribution(mitior.per_unit[vj, rj], mitior.ppu[vj, rj],
                                    mitior.points[vj, rj], mitior.resolved_points[vj, rj],
                                    mitior.half_life[vj, rj], p.value0[rows[sel]],
                                    resolved_any[sel], a[sel])
                old = np.where(exists & (a[sel] < mitior.expires[vj, rj]), old, 0.0)
                if detail is not None and hl_used is not None:
                    _mitior_detail(detail, comp, mitior, p, rows, rule, sel, vj, rj, exists,
                                   resolved_any, hl_used, old > contrib[sel])
                contrib[sel] = np.maximum(contrib[sel], old)
        cell = p.scode[rows].astype(np.int64) * n_dims + comp.dim[rule]
        sums += np.bincount(cell, weights=contrib, minlength=n_subj * n_dims)
        if detail is not None and hl_used is not None:
            detail.add(p.scode[rows], comp.dim[rule], hl_used, contrib)
    sums2 = sums.reshape(n_subj, n_dims)
    for attr in rb.attributes:
        dj = next(i for i, d in enumerate(rb.dimensions) if d.id == attr.dimension)
        pts = np.full(n_subj, attr.missing, float)
        ti = comp.type_index[attr.record]
        cand = np.flatnonzero((p.tcode == ti) & at_t)
        if attr.expires is not None:
            cand = cand[age[cand] < attr.expires]
        if len(cand):
            latest = _latest_per_subject(p, cand)
            pts[p.scode[latest]] = _bin_points(attr.bins, attr.missing,
                                               p.col("value_num", latest),
                                               p.col("value_text", latest).cast(pa.string()))
        sums2[:, dj] += pts
        if detail is not None:
            detail.attr[:, dj] += pts
    dims = np.empty_like(sums2)
    for j, d in enumerate(rb.dimensions):
        dims[:, j] = np.clip(sums2[:, j], -math.inf if d.min is None else d.min,
                             math.inf if d.max is None else d.max)
    total = rb.scale.base + (dims.sum(axis=1) if n_dims else np.zeros(n_subj))
    score = np.clip(total, -math.inf if rb.scale.min is None else rb.scale.min,
                    math.inf if rb.scale.max is None else rb.scale.max)
    return _Scores(dims, score), first_res


def _mitior_detail(detail: Detail, comp: Compiled, mitior: Mitior, p: _Prepared, rows: I64,
                   rule: npt.NDArray[np.int32], sel: I64, vj: I64,
                   rj: npt.NDArray[np.int32], exists: Bool, resolved_any: Bool,
                   hl_used: F64, won: Bool) -> None:
    """Under lex mitior: the half-life of the rule that won (the older one only when
    strictly milder, as the reference decides), and the instants at which the choice
    may change for every record an older counterpart judges."""
    hl_used[sel[won]] = mitior.half_life[vj, rj][won]
    e = np.flatnonzero(exists)
    if len(e) == 0:
        return
    r_new, r_at = rule[sel[e]], rows[sel[e]]
    v_e, r_e = vj[e], rj[e]
    p_new = _points(comp.per_unit[r_new], comp.ppu[r_new], comp.points[r_new],
                    comp.resolved_points[r_new], p.value0[r_at], resolved_any[sel[e]])
    p_old = _points(mitior.per_unit[v_e, r_e], mitior.ppu[v_e, r_e], mitior.points[v_e, r_e],
                    mitior.resolved_points[v_e, r_e], p.value0[r_at], resolved_any[sel[e]])
    detail.mitior(p.scode[r_at], p.occ[r_at], p_new, comp.half_life[r_new], p_old,
                  mitior.half_life[v_e, r_e], mitior.expires[v_e, r_e])


def _interval(occ: I64, rec: I64, known: I64, notice: F64 | float,
              max_days: F64 | float) -> tuple[I64, I64]:
    """(start, cap) of ListDef.interval, vectorised; cap _NONE without max_duration."""
    notice_us = np.round(np.asarray(notice, float) * US_PER_DAY).astype(np.int64)
    start: I64 = np.maximum(occ, known) + notice_us
    anchor = np.maximum(occ, rec) + notice_us
    finite = np.isfinite(max_days)
    cap_us = np.round(np.where(finite, max_days, 0.0) * US_PER_DAY).astype(np.int64)
    cap: I64 = np.where(finite, anchor + cap_us, _NONE)
    return start, cap


def _record_list(p: _Prepared, comp: Compiled, list_type: str, notice: float,
                 max_duration: float | None, first_res: I64, t: int,
                 mitior: Mitior | None = None, li: int = 0,
                 changes: list[tuple[npt.NDArray[np.int32], I64]] | None = None) -> Bool:
    """Per subject: on the list at t. Each live record of the type (occurred ≤ t) lists
    as ListDef.interval says, until min(first resolution, the cap); under lex mitior
    only within the interval the version in force when it occurred gives too.
    `changes` receives the starts and ends of the entries in force or pending at t."""
    on = np.zeros(len(p.subjects), bool)
    ti = comp.type_index[list_type]
    rows = np.flatnonzero((p.tcode == ti) & (p.occ <= t))
    if len(rows) == 0:
        return on
    start, end = _interval(p.occ[rows], p.rec[rows], p.known[rows], notice,
                           max_duration if max_duration is not None else math.inf)
    if mitior is not None:
        v = mitior.version_of(p.occ[rows])
        vj = np.maximum(v, 0)
        other = (v < 0) | ~mitior.same[vj]
        if other.any():
            exists = (v >= 0) & mitior.list_has[vj, li]
            s2, c2 = _interval(p.occ[rows], p.rec[rows], p.known[rows],
                               mitior.list_notice[vj, li], mitior.list_max[vj, li])
            start = np.where(other, np.maximum(start, s2), start)
            end = np.where(other, np.minimum(end, c2), end)
            end = np.where(other & ~exists, np.iinfo(np.int64).min, end)
    end = np.minimum(end, first_res[rows])
    inside = (start <= t) & (t < end)
    on[p.scode[rows[inside]]] = True
    if changes is not None:
        pending = (np.maximum(p.occ[rows], p.known[rows]) <= t) & (t < start) & (t < end)
        subj = p.scode[rows]
        changes.append((subj[inside | pending], end[inside | pending]))
        changes.append((subj[pending], start[pending]))
    return on


def score_partition(rb: Rulebook, records: pa.Table, subjects: pa.Table | None, t: int,
                    k: int, *, compiled: Compiled | None = None,
                    history: Sequence[ProgramVersion] | None = None,
                    terms: bool = False, record_ids: RecordIds | None = None) -> pa.Table:
    """Standings of every subject in one partition (records and subjects of a set of
    subjects; every record a void or resolution references must be in the same
    partition, which subject partitioning guarantees). `history` — every version of the
    program — turns on lex mitior, as in the reference engine.

    `terms`: also the columns ``terms`` and ``valid_until`` of an exact materialized row
    (scoring/exact_batch.py); both null for every subject when the rulebook has more
    (dimension, half-life) pairs than a row holds.

    `record_ids`: where to read record ids when `records` has no record_id column."""
    comp = compiled or compile_rulebook(rb)
    p = _prepare(rb, comp, records, subjects, k, record_ids=record_ids)
    mitior = compile_mitior(rb, history, k)
    n = len(p.subjects)
    sl = (exact_batch.slots(rb, comp.half_life, comp.dim,
                            mitior.half_life if mitior is not None else None,
                            mitior.has if mitior is not None else None) if terms else None)
    detail = exact_batch.Detail(n, comp.n_dims) if sl is not None else None
    list_changes: list[tuple[npt.NDArray[np.int32], I64]] | None = (
        [] if detail is not None else None)
    lags: list[exact_batch.Lag] = []
    sc, first_res = _score_at(rb, comp, p, t, mitior, detail)
    memberships = np.zeros((n, len(rb.lists)), bool)
    again: dict[int, F64] = {}
    for li, x in enumerate(rb.lists):
        if x.enter_when.record is not None:
            memberships[:, li] = _record_list(p, comp, x.enter_when.record, x.notice,
                                              x.max_duration, first_res, t, mitior,
                                              li, list_changes) & p.applies
        else:
            assert x.enter_when.score_below is not None
            below = sc.score < x.enter_when.score_below
            if x.notice > 0:
                # the score at t − notice as this ledger knew it then (reference
                # _score_list): notice runs from when the system knew
                t0 = t - days_to_us(x.notice)
                if t0 not in again:
                    k0 = min(k, t0)
                    p0 = _prepare(rb, comp, records, subjects, k0, by_knowledge=True,
                                  record_ids=record_ids)
                    d0 = exact_batch.Detail(n, comp.n_dims) if detail is not None else None
                    s0 = _score_at(rb, comp, p0, t0, compile_mitior(rb, history, k0), d0)[0]
                    again[t0] = _align(s0.score, p0.subjects, p.subjects)
                    if d0 is not None:
                        assert p0.subjects.equals(p.subjects)  # one encoding of subjects
                        lags.append(exact_batch.Lag(float(x.notice), t - t0, t0, k0, d0))
                below &= again[t0] < x.enter_when.score_below
            memberships[:, li] = below & p.applies
    tier_idx = np.full(n, -1, np.int64)
    for i in range(len(rb.tiers) - 1, -1, -1):
        tier_idx[rb.tiers[i].min <= sc.score] = i
    tier_names = pa.array([tr.id for tr in rb.tiers] + [None], pa.string())
    tiers = tier_names.take(pa.array(np.where(tier_idx < 0, len(rb.tiers), tier_idx)))
    flat = np.flatnonzero(memberships.ravel())
    offsets = np.r_[0, np.cumsum(memberships.sum(axis=1))].astype(np.int32)
    list_ids = pa.array([x.id for x in rb.lists], pa.string())
    values = list_ids.take(pa.array(flat % max(len(rb.lists), 1)))
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    cols: dict[str, pa.Array] = {
        "subject": p.subjects, "subject_kind": p.subject_kind,
        "score": pa.array(sc.score), "tier": tiers}
    for j, d in enumerate(rb.dimensions):
        cols[dimension_column(d.id)] = pa.array(sc.dims[:, j])
    cols["lists"] = lists
    if not terms:
        return pa.table(cols, schema=output_schema(rb))
    if sl is None or detail is None or list_changes is None:
        cols["terms"] = pa.nulls(n, pa.string())
        cols["valid_until"] = pa.nulls(n, pa.int64())
    else:
        cols["terms"], cols["valid_until"] = exact_batch.build_terms(
            rb, sl, _rows_of(rb, comp, p), t, k, p.applies, detail, lags, list_changes,
            [(x.id, memberships[:, li]) for li, x in enumerate(rb.lists)
             if x.enter_when.record is not None], history)
    return pa.table(cols, schema=output_schema(rb, terms=True))


def _rows_of(rb: Rulebook, comp: Compiled, p: _Prepared) -> exact_batch.Rows:
    return exact_batch.Rows(
        scode=p.scode_t, bearing=(p.kcode_t != _OTHER) | (p.tcode_t >= 0),
        expiry_days=[e[p.tcode_t] for e in exact_batch.type_expiries(rb, comp.types)],
        occ=p.occ_t, rec=p.rec_t, known=p.known_t)


def _align(values: F64, from_subjects: pa.Array, to_subjects: pa.Array) -> F64:
    """values indexed by from_subjects, reindexed to to_subjects (both passes see the
    same records and subjects, so this is the identity but for safety)."""
    if from_subjects.equals(to_subjects):
        return values
    pos = {subj: i for i, subj in enumerate(from_subjects.to_pylist())}
    return np.array([values[pos[subj]] if subj in pos else math.inf
                     for subj in to_subjects.to_pylist()], float)


#: What score_batches scores: (records, subjects), or (records, subjects, record_ids)
#: when the records table leaves record_id to a lazy source.
Partition = tuple[pa.Table, pa.Table | None] | tuple[pa.Table, pa.Table | None, RecordIds]


def _unpack(part: Partition) -> tuple[pa.Table, pa.Table | None, RecordIds | None]:
    if len(part) == 3:
        return part[0], part[1], part[2]
    return part[0], part[1], None


def score_batches(rb: Rulebook, partitions: Iterable[Partition],
                  t: int, k: int, *, workers: int = 2,
                  history: Sequence[ProgramVersion] | None = None) -> Iterator[pa.Table]:
    """Score partition after partition, in order.

    With workers > 1 the next partition is read (by the caller's iterator, in this
    thread) while up to `workers` partitions are scored on a thread pool: NumPy and
    Arrow release the GIL in their kernels, so two cores overlap reading and scoring.
    At most `workers` partitions are in flight, which bounds memory."""
    comp = compile_rulebook(rb)
    if workers <= 1:
        for part in partitions:
            records, subjects, ids = _unpack(part)
            yield score_partition(rb, records, subjects, t, k, compiled=comp, history=history,
                                  record_ids=ids)
        return
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[pa.Table]] = deque()
        for part in partitions:
            records, subjects, ids = _unpack(part)
            pending.append(pool.submit(score_partition, rb, records, subjects, t, k,
                                       compiled=comp, history=history, record_ids=ids))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def score_records(rb: Rulebook, records: Iterable[Record] | pa.Table,
                  subjects: Iterable[tuple[str, str | None]] | pa.Table | None, t: int,
                  k: int | None = None, *,
                  history: Sequence[ProgramVersion] | None = None,
                  terms: bool = False) -> pa.Table:
    """Convenience: one in-memory partition (tests, small ledgers, refreshes)."""
    table = records if isinstance(records, pa.Table) else records_to_table(records)
    subj = (subjects if isinstance(subjects, pa.Table) or subjects is None
            else subjects_to_table(subjects))
    return score_partition(rb, table, subj, t, t if k is None else k, history=history,
                           terms=terms)


__all__ = ["RECORD_SCHEMA", "SUBJECT_SCHEMA", "Mitior", "Partition", "RecordIds",
           "compile_mitior", "dimension_column", "output_schema",
           "records_to_table", "relevant_types", "score_batches", "score_partition",
           "score_records", "subjects_to_table"]
