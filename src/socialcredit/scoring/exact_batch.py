"""Exact materialized standings for a whole partition: the batch engine's version of
:func:`socialcredit.scoring.exact.build`.

A row written by ``score --all`` without these terms is exact at its own instant only,
so the first decision about each subject afterwards recomputed it with the reference
engine (per subject, in Python). Here the same terms come out of the arrays the batch
engine already has: the decayed sums are one more ``bincount`` of the contributions it
computes anyway, keyed by (subject, dimension, half-life) instead of (subject,
dimension); the instant of the next discrete change is a per-record candidate instant
reduced to its minimum per subject. The reference's rules for which instants count
(exact.py) are followed one for one, so a row from either engine is refreshed at the
same instant.

The terms are written as the JSON :meth:`exact.Terms.dumps` writes, assembled column by
column with Arrow string kernels: a ``json.dumps`` per subject would cost more than
the scoring of its records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.ledger.model import ProgramVersion
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.exact import MARGIN  # both engines bring instants forward alike
from socialcredit.timeutil import US_PER_DAY

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
Bool = npt.NDArray[np.bool_]

NONE = np.iinfo(np.int64).max  # no change
#: (dimension, half-life) pairs a row may hold at most; past it a row would be mostly
#: zeros, and the rows are written without terms (readers recompute them, as before)
MAX_SLOTS = 48


@dataclass
class Detail:
    """What scoring one partition at one instant leaves for the terms: each counting
    contribution's subject, dimension, the half-life it decays with (the rule's, or
    under lex mitior the older rule's when that one won), and its value at that
    instant; attribute points per (subject, dimension); and the floating-point instants
    at which lex mitior changes a contribution (the older rule expires, or the two
    rules' decays cross)."""

    n_subjects: int
    n_dims: int
    scode: list[I32] = field(default_factory=list)
    dim: list[I32] = field(default_factory=list)
    half_life: list[F64] = field(default_factory=list)
    contrib: list[F64] = field(default_factory=list)
    attr: F64 = field(init=False)
    change_subj: list[I32] = field(default_factory=list)
    change_at: list[F64] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.attr = np.zeros((self.n_subjects, self.n_dims))

    def add(self, scode: I32, dim: I32, half_life: F64, contrib: F64) -> None:
        self.scode.append(scode)
        self.dim.append(dim)
        self.half_life.append(half_life)
        self.contrib.append(contrib)

    def mitior(self, scode: I32, occ: I64, p_new: F64, h_new: F64, p_old: F64, h_old: F64,
               old_expires: F64) -> None:
        """Contributions judged against an older version's counterpart rule: the older
        rule's expiry, and the age at which the two decays cross (exact._crossing)."""
        occ_f = occ.astype(np.float64)
        fin = np.isfinite(old_expires)
        self.change_subj.append(scode[fin])
        self.change_at.append(occ_f[fin] + old_expires[fin] * US_PER_DAY)
        r1 = 1 / h_new  # no half-life (inf): rate 0
        r2 = 1 / h_old
        ok = np.flatnonzero((p_new != 0) & (p_old != 0) & ((p_new > 0) == (p_old > 0))
                            & (r1 != r2))
        if len(ok) == 0:
            return
        # math.log2, not np.log2: the reference's logarithm to the last bit, so both
        # engines bring the same instant forward by the same margin
        lg = np.array([math.log2(abs(a)) - math.log2(abs(b))
                       for a, b in zip(p_new[ok].tolist(), p_old[ok].tolist(), strict=True)])
        age = lg / (r1[ok] - r2[ok])
        pos = age > 0
        self.change_subj.append(scode[ok][pos])
        self.change_at.append(occ_f[ok][pos] + age[pos] * US_PER_DAY)


@dataclass
class Lag:
    """The look-back standing of score lists with a notice of `notice` days."""

    notice: float
    n_us: int
    at: int  # t0 − N
    known: int  # min(k, t0 − N)
    detail: Detail


def _after_float(t0: int, instant: F64) -> I64:
    """exact._after for floating-point instants: floor − MARGIN, or t0 + 1 when that is
    not after t0 but the instant is; NONE for instants not after t0."""
    out = np.full(len(instant), NONE, np.int64)
    ok = np.isfinite(instant) & (instant > t0)
    at = np.floor(instant[ok]).astype(np.int64) - MARGIN
    out[ok] = np.where(at > t0, at, t0 + 1)
    return out


def _after_exact(t0: int, instant: I64) -> I64:
    out: I64 = np.where(instant > t0, instant, NONE)
    return out


def _shift(values: I64, n: int) -> I64:
    out: I64 = np.where(values == NONE, NONE, values + n)
    return out


def _reduce(out: I64, scode: I32, values: I64) -> None:
    keep = values != NONE
    if keep.any():
        np.minimum.at(out, scode[keep], values[keep])


@dataclass(frozen=True)
class Rows:
    """The partition's records known at k (voided ones too) of subjects the program
    applies to, as exact.build reads them."""

    scode: I32
    bearing: Bool  # void, resolution or a type the rulebook reads (exact._bearing)
    expiry_days: list[F64]  # the j-th smallest expiry of a rule or attribute on its type
    occ: I64
    rec: I64
    known: I64


def type_expiries(rb: Rulebook, types: Sequence[str]) -> list[F64]:
    """Per type (the engine's type codes), the expiries of the rules and attributes on
    it, as layers: layer j holds each type's j-th smallest (inf: none), so a record's
    expiries are one lookup per layer whatever the number of types."""
    per: dict[int, set[float]] = {}
    index = {t: i for i, t in enumerate(types)}
    pairs = [(r.record, r.expires) for r in rb.rules] + [(a.record, a.expires)
                                                         for a in rb.attributes]
    for record, expires in pairs:
        if expires is not None and record in index:
            per.setdefault(index[record], set()).add(float(expires))
    layers = []
    for j in range(max((len(v) for v in per.values()), default=0)):
        # the last entry: a type the rulebook does not read (code −1)
        layer = np.full(len(types) + 1, math.inf)
        for i, v in per.items():
            if j < len(v):
                layer[i] = sorted(v)[j]
        layers.append(layer)
    return layers


def _expiring(t0: int, occ_f: F64, expiry_days: Sequence[F64]) -> I64:
    """The first expiry after t0 of each record, as exact._after notes it."""
    out = np.full(len(occ_f), NONE, np.int64)
    for days in expiry_days:
        np.minimum(out, _after_float(t0, occ_f + days * US_PER_DAY), out=out)
    return out


def _until(rows: Rows, t0: int, k: int, n_subjects: int, applies: Bool, detail: Detail,
           list_changes: Sequence[tuple[I32, I64]], lags: Sequence[Lag],
           history: Sequence[ProgramVersion] | None) -> I64:
    """Per subject: the first instant after t0 at which its standing changes otherwise
    than by decay (exact.build's `until`), NONE for never."""
    until = np.full(n_subjects, NONE, np.int64)
    known_versions = [pv for pv in history or () if pv.published_at <= k]
    # a version taking effect changes every standing, the program applying or not
    eff = [pv.effective_at for pv in known_versions if pv.effective_at > t0]
    if eff:
        until[:] = min(eff)
    occ_f = rows.occ.astype(np.float64)
    b = rows.bearing
    # a record (or resolution) dated after t0 takes effect then; a backfilled one's
    # notice starts when the ledger learnt of it; rules and attributes expire
    each = np.minimum(np.minimum(_after_exact(t0, rows.occ), _after_exact(t0, rows.known)),
                      _expiring(t0, occ_f, rows.expiry_days))
    _reduce(until, rows.scode[b], each[b])
    for subj, fat in zip(detail.change_subj, detail.change_at, strict=True):
        _reduce(until, subj, _after_float(t0, fat))
    for subj, at in list_changes:
        _reduce(until, subj, _after_exact(t0, at))
    for lag in lags:
        lt, lk = lag.at, lag.known
        lag_each = np.where(rows.rec <= lk, _expiring(lt, occ_f, rows.expiry_days), NONE)
        lag_each = np.minimum(lag_each, np.where(
            rows.known <= lk, _after_exact(lt, rows.occ), np.maximum(rows.known, lt + 1)))
        _reduce(until, rows.scode[b], _shift(lag_each[b], lag.n_us))
        for subj, fat in zip(lag.detail.change_subj, lag.detail.change_at, strict=True):
            _reduce(until, subj, _shift(_after_float(lt, fat), lag.n_us))
        # versions as the look-back knows them
        got = [pv.effective_at for pv in known_versions if pv.effective_at > lt]
        got += [max(pv.published_at, lt + 1) for pv in known_versions if pv.published_at > lk]
        if got:
            np.minimum(until, np.where(applies, min(got) + lag.n_us, NONE), out=until)
    return until


@dataclass(frozen=True)
class Slots:
    """Where each (dimension, half-life) sum goes in a row: `P` decaying slots, then one
    constant slot per dimension."""

    half_lives: F64  # sorted, every finite half-life a contribution may decay with
    table: npt.NDArray[np.int64]  # (dimension, half-life index) -> slot, −1 none
    pairs: list[tuple[int, float]]  # slot -> (dimension, half-life)
    n_dims: int

    @property
    def width(self) -> int:
        return len(self.pairs) + self.n_dims

    def sums(self, detail: Detail) -> F64:
        """(subject, slot) sums of one standing."""
        n, c = detail.n_subjects, self.width
        if not detail.scode:
            out = np.zeros((n, c))
        else:
            s = np.concatenate(detail.scode).astype(np.int64)
            d = np.concatenate(detail.dim).astype(np.int64)
            h = np.concatenate(detail.half_life)
            fin = np.isfinite(h)
            hi = np.searchsorted(self.half_lives, np.where(fin, h, 0.0))
            slot = np.where(fin, self.table[d, np.minimum(hi, len(self.half_lives) - 1)]
                            if len(self.half_lives) else -1, len(self.pairs) + d)
            assert (slot >= 0).all(), "a half-life without a slot"
            out = np.bincount(s * c + slot, weights=np.concatenate(detail.contrib),
                              minlength=n * c).astype(np.float64).reshape(n, c)
        out[:, len(self.pairs):] += detail.attr
        return out


def slots(rb: Rulebook, rule_half_life: F64, rule_dim: I32,
          older_half_life: F64 | None, older_has: Bool | None) -> Slots | None:
    """The slots for rb's rules and, under lex mitior, their counterparts' half-lives
    (a contribution keeps rb's rule's dimension); None past MAX_SLOTS."""
    pairs = {(int(d), float(h)) for d, h in zip(rule_dim, rule_half_life, strict=True)
             if math.isfinite(h)}
    if older_half_life is not None and older_has is not None:
        for v in range(older_half_life.shape[0]):
            for r in np.flatnonzero(older_has[v] & np.isfinite(older_half_life[v])):
                pairs.add((int(rule_dim[r]), float(older_half_life[v, r])))
    if len(pairs) > MAX_SLOTS:
        return None
    ordered = sorted(pairs)
    hls = np.array(sorted({h for _, h in ordered}), np.float64)
    table = np.full((len(rb.dimensions), max(len(hls), 1)), -1, np.int64)
    for i, (d, h) in enumerate(ordered):
        table[d, int(np.searchsorted(hls, h))] = i
    return Slots(hls, table, ordered, len(rb.dimensions))


# -- the JSON of exact.Terms.dumps, column by column -------------------------------------------

Piece: TypeAlias = "str | pa.Array"


def _numbers(values: F64) -> pa.Array:
    # Arrow prints the shortest text that reads back as the same double, as repr does
    return pa.array(values, pa.float64()).cast(pa.string())


def _sums_json(rb: Rulebook, sl: Slots, sums: F64) -> list[Piece]:
    """Sums.as_json: {"c": {dim: constant}, "d": {dim: [[half-life, sum], ...]}}, a
    half-life only where its sum is not zero: a reader multiplies once per pair, on
    every read, so a row holds the pairs of its own subject as the reference's does."""
    n = len(sums)
    out: list[Piece] = ['{"c":{']
    for j, d in enumerate(rb.dimensions):
        out += [("," if j else "") + json.dumps(d.id) + ":",
                _numbers(sums[:, len(sl.pairs) + j])]
    out.append('},"d":{')
    first = True
    for j, d in enumerate(rb.dimensions):
        pairs = []
        for i, (dj, h) in enumerate(sl.pairs):
            held = sums[:, i] != 0
            if dj != j or not held.any():
                continue
            text = _join(["[" + json.dumps(h) + ",", _numbers(sums[:, i]), "],"], n)
            pairs.append(pc.if_else(pa.array(held), text, ""))
        if not pairs:
            continue
        out += [("" if first else ",") + json.dumps(d.id) + ":[",
                pc.utf8_rtrim(_join(pairs, n), characters=","), "]"]
        first = False
    out.append("}}")
    return out


def _join(pieces: Sequence[Piece], n: int) -> pa.Array:
    merged: list[Piece] = []
    for p in pieces:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        else:
            merged.append(p)
    args = [p if isinstance(p, pa.Array) else pa.scalar(p, pa.string()) for p in merged]
    if not any(isinstance(a, pa.Array) for a in args):
        return pa.array([str(merged[0]) if merged else ""] * n, pa.string())
    return pc.binary_join_element_wise(*args, "")


def terms_json(rb: Rulebook, sl: Slots, main: F64, lagged: Sequence[tuple[float, F64]],
               record_lists: Sequence[tuple[str, Bool]], applies: Bool) -> pa.Array:
    """Terms.dumps for every subject: {"s": sums, "l": record lists, "g": [[notice,
    sums], ...], "a": applies}."""
    n = len(applies)
    pieces: list[Piece] = ['{"s":', *_sums_json(rb, sl, main), ',"l":[']
    if record_lists:
        names = [pc.if_else(pa.array(on), json.dumps(x) + ",", "") for x, on in record_lists]
        pieces.append(pc.utf8_rtrim(_join(names, n), characters=","))
    pieces.append('],"g":')
    if lagged:
        g: list[Piece] = ["["]
        for i, (notice, sums) in enumerate(lagged):
            g += [("," if i else "") + "[" + json.dumps(notice) + ",",
                  *_sums_json(rb, sl, sums), "]"]
        g.append("]")
        pieces.append(pc.if_else(pa.array(applies), _join(g, n), "[]"))
    else:
        pieces.append("[]")
    pieces += [',"a":', pc.if_else(pa.array(applies), "true", "false"), "}"]
    return _join(pieces, n)


def build_terms(rb: Rulebook, sl: Slots, rows: Rows, t0: int, k: int, applies: Bool,
                detail: Detail, lags: Sequence[Lag], list_changes: Sequence[tuple[I32, I64]],
                record_lists: Sequence[tuple[str, Bool]],
                history: Sequence[ProgramVersion] | None) -> tuple[pa.Array, pa.Array]:
    """(terms, valid_until) columns of a partition scored at (t0, k)."""
    n = len(applies)
    until = _until(rows, t0, k, n, applies, detail, list_changes, lags, history)
    text = terms_json(rb, sl, sl.sums(detail),
                      [(lag.notice, sl.sums(lag.detail)) for lag in lags], record_lists,
                      applies)
    return text, pa.array(until, pa.int64(), mask=until == NONE)


__all__ = ["MAX_SLOTS", "Detail", "Lag", "Rows", "Slots", "build_terms", "slots",
           "terms_json", "type_expiries"]
