"""The columnar ingest path: a CSV record file read by Arrow (or a batch of JSON records
turned into columns), its rows validated a column at a time, the per-row validator kept
for every row the column checks cannot vouch for.

Why a second path: reading a file row by row into dicts and validating each dict is
most of an ingest's Python time (≈ 13 µs a row). Arrow's CSV reader parses the file in C;
NumPy and Arrow kernels check a column of identifiers, instants or numbers at once.

Why it cannot change what ingest accepts or says: it accepts a row only when it can
prove the row validator (`Validator.row`) would accept it and produce the same fields —
printable-ASCII identifiers of the strict `_PLAIN_KEY` form that the validator itself
takes unchanged, registered providers and published types, instants of the two fixed
forms `YYYY-MM-DDTHH:MM:SSZ` and `YYYY-MM-DD` (00:00 UTC) with every component in range,
numbers of the validator's own strict grammar, text without surrounding space or
anything but printable ASCII, and the record type's rules (roles, evidence, units,
refs). Subjects are normalised by the validator itself, once per distinct spelling.
Every other row — and a whole file Arrow could read differently from Python's `csv`
module — goes to the row validator, so error messages, line numbers and the grouping of
errors are exactly the row path's.

A JSON batch (records submitted over the network) takes the same checks: a row whose
known fields are all text (or null, or absent: the row validator reads those as empty,
as CSV's empty field) becomes one line of string columns; any other row — a number, a
boolean, an object where text belongs, the reader's own `__error__` — is marked for the
row validator, which sees the row exactly as it was sent.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from socialcredit.identifiers.subject import MAX_ID_LENGTH, InvalidId
from socialcredit.ledger.validate import FIELDS, OPTIONAL, SUBJECT_KINDS, Row, Validator
from socialcredit.limits import MAX_FIELD_CHARS, MAX_ROW_BYTES, MAX_VALUE, MAX_YEAR, MIN_YEAR
from socialcredit.timeutil import US_PER_DAY, US_PER_SECOND

# RE2 (Arrow) spellings of the row validator's fast forms
# validate._PLAIN_KEY, `[\x21-\x7e]{1,200}`: its bound checked as a length (ASCII: a byte a
# character), since RE2 compiles a counted repetition to a program 200 times as long
# (Arrow compiles a pattern on every call: 0.5 ms a batch of 1,000 rows, against 0.15)
_PLAIN = r"^[\x21-\x7e]+$"
_PLAIN_MAX = 200
_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"  # validate._NUMBER
# printable ASCII, not starting or ending with a space: what `str.strip` leaves alone
_TEXT = r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$"
# identifiers.subject._USCC_SHAPE: upper-cased by normalisation
_USCC_SHAPE = r"^[0-9A-Za-z]{2}[0-9]{6}[0-9A-Za-z]{10}$"
_INSTANT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
_INSTANT_LEN = 20
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"  # a date alone: 00:00 UTC (parse_instant)
_DATE_LEN = 10
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


_SLICED = 256  # rows Columns.raw slices out before it turns the columns into lists


class Columns:
    """A CSV record file as Arrow string columns (every row one line of the file)."""

    #: the number that names the first row (a file's line 1 is its header)
    first_line = 2
    #: rows the column checks must leave to the row validator, whatever they look like
    #: (None: none)
    forced: np.ndarray | None = None

    def __init__(self, source: Path | str, header: list[str], table: pa.Table) -> None:
        self.source = source
        self.header = header
        self.table = table
        self._asked = 0
        self._lists: list[list[str]] | None = None

    def __len__(self) -> int:
        return int(self.table.num_rows)

    def column(self, name: str) -> pa.Array | None:
        if name not in self.header:
            return None
        return self.table.column(name).combine_chunks()

    def raw(self, line: int) -> dict[str, Any]:
        """The row on `line` as the row reader gives it (for the row validator, messages
        and rejected files). A few rows are sliced out of the table; once many are asked
        for, the columns are turned into lists once (a slice costs ~20 µs)."""
        self._asked += 1
        if self._asked <= _SLICED:
            row = self.table.slice(line - 2, 1).to_pylist()[0]
            return {h: row[h] for h in self.header}
        if self._lists is None:
            self._lists = [self.table.column(h).to_pylist() for h in self.header]
        return {h: values[line - 2] for h, values in zip(self.header, self._lists,
                                                          strict=True)}


#: The fields the row validator reads from a submitted record (`ingested_at` only when
#: replicating, which the columnar path leaves to it).
_KNOWN = (*FIELDS, "subject_kind", "recorded_at")


class RowColumns(Columns):
    """A batch of records given as mappings (a JSON array or NDJSON), as string columns:
    row n (from 1) is the batch's n-th record, and `raw(n)` is that record as sent."""

    first_line = 1

    def __init__(self, rows: Sequence[dict[str, Any]], table: pa.Table,
                 forced: np.ndarray) -> None:
        super().__init__("records", list(_KNOWN), table)
        self.rows = rows
        self.forced = forced

    def raw(self, line: int) -> dict[str, Any]:
        return self.rows[line - 1]


def columns_of_rows(rows: Sequence[dict[str, Any]]) -> RowColumns | None:
    """The records as columns: a field that is null or absent is the empty string (the row
    validator reads the three alike); a row with a field of any other JSON type, or with
    the `__error__` key readers set, is forced to the row validator. None when nothing
    would be gained (no row plainly text) or Arrow cannot hold a string (a lone
    surrogate): the row path then takes the batch."""
    n = len(rows)
    if n == 0:
        return None
    forced = np.array(["__error__" in row for row in rows], dtype=bool)
    columns: list[list[Any]] = []
    # a field at a time (a list comprehension each), the few rows that are not text
    # then looked at one by one
    for name in _KNOWN:
        values = [row.get(name) for row in rows]
        types = set(map(type, values))
        if types == {str}:
            columns.append(values)
        elif types == {type(None)}:
            columns.append([""] * n)
        elif types == {str, type(None)}:
            columns.append(["" if v is None else v for v in values])
        else:
            for i, v in enumerate(values):
                if v.__class__ is not str:
                    values[i] = ""
                    if v is not None:
                        forced[i] = True
            columns.append(values)
    if forced.all():
        return None
    try:
        table = pa.table([pa.array(values, pa.string()) for values in columns],
                         names=list(_KNOWN))
    except (UnicodeEncodeError, pa.ArrowException):
        return None
    return RowColumns(rows, table, forced)


_NL, _COMMA, _QUOTE = 10, 44, 34


def _plainly_quoted(arr: np.ndarray, ends: np.ndarray) -> bool:
    """Whether every field is either quoted with no quote or line break inside, or
    unquoted with no quote: the CSV that Python's `csv` module and Arrow read alike.
    Checked on the quote positions (a regular expression per line costs five times as
    much): quotes pair up in order, each pair opens at the start of a field and closes at
    its end, with no line break between."""
    q = np.flatnonzero(arr == _QUOTE)
    if len(q) % 2:
        return False
    opens, closes = q[0::2], q[1::2]
    line = np.searchsorted(ends, q)
    before = arr[opens[opens > 0] - 1]
    after = arr[closes[closes < len(arr) - 1] + 1]
    return bool(((before == _COMMA) | (before == _NL)).all()
                and ((after == _COMMA) | (after == _NL)).all()
                and (line[0::2] == line[1::2]).all())


def read_csv_columns(path: Path) -> Columns | None:
    """The file as columns, or None when the row reader must read it: anything but
    plain one-line-per-row CSV (a byte-order mark, carriage returns, blank lines, quoted
    line breaks, quotes inside fields, a long line, duplicate or missing columns, rows of
    the wrong width, bytes that are not UTF-8). The row reader then also words the error."""
    data = path.read_bytes()
    if (not data or data.startswith(b"\xef\xbb\xbf") or b"\r" in data or b"\x00" in data
            or data.startswith(b"\n") or b"\n\n" in data):
        return None
    body = data[:-1] if data.endswith(b"\n") else data
    arr = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(arr == _NL)
    longest = int(np.diff(ends, prepend=-1, append=len(body)).max())
    if longest > MAX_ROW_BYTES:
        return None
    if not _plainly_quoted(arr, ends):
        return None
    first = body.split(b"\n", 1)[0]
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(first.decode("utf-8"))))]
    except (UnicodeDecodeError, StopIteration):
        return None
    if len(set(header)) != len(header) or any(
            f not in header and f not in OPTIONAL for f in FIELDS):
        return None
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            # one block for the whole file (up to 1 GiB): every column then comes out as
            # one chunk, and taking it (Columns.column) copies nothing
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1,
                                           use_threads=False,
                                           block_size=min(max(len(data) + 1, 1 << 20),
                                                          1 << 30)),
            parse_options=pacsv.ParseOptions(newlines_in_values=False,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header}, strings_can_be_null=False,
                quoted_strings_can_be_null=False, check_utf8=True))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if table.num_rows != len(ends):  # header line + one line a row
        return None
    return Columns(path, header, table)


def _mask(arr: pa.Array) -> np.ndarray:
    out: np.ndarray = arr.to_numpy(zero_copy_only=False)
    return out


def _empty(col: pa.Array | None, n: int) -> np.ndarray:
    if col is None:
        return np.ones(n, dtype=bool)
    return _mask(pc.equal(pc.binary_length(col), 0))


def _codes(col: pa.Array) -> tuple[np.ndarray, list[str]]:
    enc = pc.dictionary_encode(col)
    return enc.indices.to_numpy(zero_copy_only=False), enc.dictionary.to_pylist()


def _instants(col: pa.Array, ok: np.ndarray, width: int = _INSTANT_LEN
              ) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds UTC of `YYYY-MM-DDTHH:MM:SSZ` texts (where `ok`; `YYYY-MM-DD` with a
    width of 10, 00:00 UTC), and which of them `datetime.fromisoformat` takes and
    `parse_instant` keeps in range. Computed from the digits: Arrow's strptime would
    roll 30 February over into March."""
    n = len(col)
    us = np.zeros(n, dtype=np.int64)
    valid = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return us, valid
    sub = col.take(pa.array(idx))
    offsets = np.frombuffer(sub.buffers()[1], dtype=np.int32)[
        sub.offset:sub.offset + len(sub) + 1]
    raw = np.frombuffer(sub.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    d = raw.reshape(len(sub), width)

    def num(a: int, b: int) -> np.ndarray:
        # the digits' columns one at a time (converting the whole block to int64 first
        # cost more than the arithmetic)
        v = np.zeros(len(sub), dtype=np.int64)
        for k in range(a, b):
            v = v * 10 + (d[:, k].astype(np.int64) - 48)
        return v

    year, month, day = num(0, 4), num(5, 7), num(8, 10)
    if width == _INSTANT_LEN:
        hour, minute, second = num(11, 13), num(14, 16), num(17, 19)
    else:
        hour = minute = second = np.zeros(len(sub), dtype=np.int64)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    month_ok = (month >= 1) & (month <= 12)
    dim = _DAYS_IN_MONTH[np.where(month_ok, month, 0)] + ((month == 2) & leap)
    good = (month_ok & (day >= 1) & (day <= dim) & (hour < 24) & (minute < 60)
            & (second < 60) & (year >= MIN_YEAR) & (year < MAX_YEAR))
    # days from the civil date (Howard Hinnant's algorithm, proleptic Gregorian)
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    us[idx] = days * US_PER_DAY + (hour * 3600 + minute * 60 + second) * US_PER_SECOND
    valid[idx] = good
    return us, valid


def _matches(col: pa.Array | None, pattern: str, n: int) -> np.ndarray:
    if col is None:
        return np.zeros(n, dtype=bool)
    return _mask(pc.match_substring_regex(col, pattern))


def _plain(col: pa.Array, n: int) -> np.ndarray:
    """Where the column holds an identifier of validate._PLAIN_KEY's form."""
    return _matches(col, _PLAIN, n) & (_mask(pc.binary_length(col)) <= _PLAIN_MAX)


def validate_columns(v: Validator, cols: Columns) -> list[Row]:
    """Rows of the file in order, as `Validator.row` would give them (see the module)."""
    n = len(cols)
    lines = range(cols.first_line, n + cols.first_line)
    if v.replicate or n == 0:
        return [v.row(line, cols.raw(line)) for line in lines]
    col = cols.column
    rid, prov, subj, typ = col("record_id"), col("provider"), col("subject"), col("type")
    assert rid is not None and prov is not None and subj is not None and typ is not None
    occurred, value, evidence, ref = col("occurred_at"), col("value"), col("evidence"), \
        col("ref")
    kind_col = col("subject_kind")
    ok = _plain(rid, n) & _plain(typ, n) & _plain(prov, n)
    if cols.forced is not None:
        ok &= ~cols.forced
    # providers, types and their rules, once per distinct value
    p_codes, p_names = _codes(prov)
    t_codes, t_names = _codes(typ)
    roles = [v.providers.get(p) for p in p_names]
    infos = [v.types.get(t) for t in t_names]
    ok &= np.array([r is not None for r in roles] + [False])[p_codes]
    ok &= np.array([i is not None for i in infos] + [False])[t_codes]
    # which role may submit which type: by role, not by provider spelling (a hostile file
    # may spell a million providers; the registry holds a handful of roles)
    role_names = sorted({r for r in roles if r is not None})
    role_codes = np.array([role_names.index(r) if r is not None else len(role_names)
                           for r in roles] + [len(role_names)])[p_codes]
    allowed = np.array([[i is not None and r in i.providers for r in role_names] + [False]
                        for i in infos], dtype=bool).reshape(len(infos), len(role_names) + 1)
    ok &= allowed[t_codes, role_codes]
    # a record id in its provider's namespace: "<provider>:" and more (registered
    # providers only: the others are refused already)
    rid_len = _mask(pc.binary_length(rid))
    for code, p in enumerate(p_names):
        if roles[code] is None:
            continue
        mine = p_codes == code
        ok[mine] &= (_mask(pc.starts_with(rid.filter(pa.array(mine)), p + ":"))
                     & (rid_len[mine] > len(p) + 1))
    # subjects: the validator's own normalisation, once per spelling
    s_codes, s_names = _codes(subj)
    # a subject of printable ASCII without surrounding space, at most MAX_ID_LENGTH long
    # and not of a USCC's shape is its own normal form (normalize_subject's first
    # return); only the others are asked of the validator
    names = pa.array(s_names, pa.string())
    as_is = (_matches(names, _TEXT, len(s_names))
             & (_mask(pc.binary_length(names)) <= MAX_ID_LENGTH)
             & ~_matches(names, _USCC_SHAPE, len(s_names))).tolist()
    normal: list[str | None] = []
    for name, same in zip(s_names, as_is, strict=True):
        if same:
            normal.append(name)
            continue
        try:
            normal.append(v.subject(name) if name else None)
        except InvalidId:
            normal.append(None)
    ok &= np.array([x is not None for x in normal] + [False])[s_codes]
    kind_empty = _empty(kind_col, n)
    if kind_col is not None:
        ok &= kind_empty | _mask(pc.is_in(kind_col, value_set=pa.array(SUBJECT_KINDS)))
    if "recorded_at" in cols.header:
        ok &= _empty(col("recorded_at"), n)
    # occurred_at: one of the two fixed forms, a real date, not in the future
    assert occurred is not None
    at, at_ok = _instants(occurred, ok & _matches(occurred, _INSTANT, n))
    day_at, day_ok = _instants(occurred, ok & _matches(occurred, _DATE, n), _DATE_LEN)
    at += day_at  # the two forms are of different lengths: no row has both
    at_ok |= day_ok
    ok &= at_ok & ((at == 0) | (at <= v.now + v.skew))  # as Validator.row: 0 is unchecked
    # value: empty, a number of the strict grammar (finite, bounded), or plain text
    val_empty = _empty(value, n)
    val_len = _mask(pc.binary_length(value)) if value is not None else np.zeros(n, int)
    is_num = _matches(value, _NUMBER, n) & (val_len <= MAX_FIELD_CHARS)
    is_text = ~is_num & _matches(value, _TEXT, n) & (val_len <= MAX_FIELD_CHARS)
    ok &= val_empty | is_num | is_text
    ev_empty = _empty(evidence, n)
    if evidence is not None:
        ok &= ev_empty | (_matches(evidence, _TEXT, n)
                          & (_mask(pc.binary_length(evidence)) <= MAX_FIELD_CHARS))
    ref_empty = _empty(ref, n)
    if ref is not None:
        ok &= ref_empty | _plain(ref, n)
    # the record type's rules (Validator.row's last block)
    def per_type(f: Any) -> np.ndarray:
        return np.array([bool(f(i)) if i is not None else False for i in infos] + [False])

    needs_ref = per_type(lambda i: i.kind in ("resolution", "void"))[t_codes]
    ok &= np.where(needs_ref, ~ref_empty, ref_empty)
    is_void = per_type(lambda i: i.kind == "void")[t_codes]
    reviewer = np.array([r == "reviewer" for r in roles] + [False])[p_codes]
    ok &= ~is_void | reviewer
    ok &= ~per_type(lambda i: i.evidence_required)[t_codes] | ~ev_empty
    ok &= ~per_type(lambda i: i.numeric)[t_codes] | is_num
    # numbers: Python's own float() (as the validator), then its range check
    nums: dict[int, float] = {}
    value_list = value.to_pylist() if value is not None else None
    nonneg = per_type(lambda i: i.nonnegative)[t_codes]
    if value_list is not None:
        for i in np.flatnonzero(ok & is_num).tolist():
            x = float(value_list[i])
            if not math.isfinite(x) or abs(x) > MAX_VALUE or (nonneg[i] and x < 0):
                ok[i] = False
            else:
                nums[i] = x
    # each field of the accepted rows as one Python list, made at C speed (NumPy takes
    # and Arrow kernels), so that building the rows is one loop of attribute stores
    def each(names: Sequence[Any], codes: np.ndarray) -> list[Any]:
        table = np.empty(len(names), dtype=object)
        table[:] = names
        out: list[Any] = table[codes].tolist() if len(names) else [None] * n
        return out

    value_num: list[float | None] = [None] * n
    for i, x in nums.items():
        value_num[i] = x
    value_text = _or_none(value, is_num | val_empty, n)
    return _rows(v, cols, ok.tolist(), rid.to_pylist(), prov.to_pylist(), typ.to_pylist(),
                 each(roles, p_codes), each([i.kind if i is not None else "" for i in infos],
                                            t_codes),
                 each(normal, s_codes), at.tolist(), value_num, value_text,
                 _or_none(evidence, ev_empty, n), _or_none(ref, ref_empty, n),
                 _or_none(kind_col, kind_empty, n))


def _or_none(col: pa.Array | None, empty: np.ndarray, n: int) -> list[str | None]:
    """The column's values as a list, None where `empty` (or no such column)."""
    if col is None:
        return [None] * n
    out: list[str | None] = pc.if_else(pa.array(empty), pa.scalar(None, pa.string()),
                                       col).to_pylist()
    return out


def _rows(v: Validator, cols: Columns, oks: list[bool], *fields: list[Any]) -> list[Row]:
    """The rows in order: accepted ones built from the columns' values (every slot set
    once, as Row.__init__ and then the validator would leave it), the others by the row
    validator."""
    out: list[Row] = []
    add = out.append
    new = Row.__new__
    line = cols.first_line - 1
    for good, rid, prov, typ, role, kind, subject, at, num, text, evidence, ref, sk in zip(
            oks, *fields, strict=True):
        line += 1
        if not good:
            add(v.row(line, cols.raw(line)))
            continue
        r = new(Row)
        r.line = line
        r.raw = _LAZY  # filled in only if the row is rejected later (Columns.raw)
        r.errors = []
        r.record_id = rid
        r.provider = prov
        r.type = typ
        r.role = role
        r.kind = kind
        r.subject = subject
        r.occurred_at = at
        r.recorded_at = None
        r.ingested_at = None
        r.value_num = num
        r.value_text = text
        r.evidence = evidence
        r.ref = ref
        r.subject_kind = sk
        add(r)
    return out


#: The raw fields of a row the column checks accepted: looked up (Columns.raw) only if a
#: later check rejects it.
_LAZY: dict[str, Any] = {}


def fill_raw(cols: Columns, rows: Sequence[Row]) -> None:
    """The raw fields of rejected rows the columnar path built without them."""
    for r in rows:
        if r.raw is _LAZY:
            r.raw = cols.raw(r.line)


__all__ = ["Columns", "RowColumns", "columns_of_rows", "fill_raw", "read_csv_columns",
           "validate_columns"]
