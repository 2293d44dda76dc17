"""Record sources in front of ingest: CSV and JSONL files become numbered rows.

Ingest takes rows (mappings of the record fields); files are one adapter in front of
it, as sqlite-utils' `rows_from_file` is in front of `insert_all`. Line numbers are the
file's own (the CSV header is line 1) so that every error points into the file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from socialcredit.errors import IngestError
from socialcredit.ledger.validate import FIELDS, OPTIONAL
from socialcredit.limits import MAX_ROW_BYTES

Numbered = tuple[int, dict[str, Any]]


def is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson", ".json")


def _unreadable(path: Path, line: int, why: str) -> IngestError:
    return IngestError(f"{path}:{line}: {why}", [f"{path}:{line}: {why}"],
                       code="ingest.unreadable",
                       details=[{"file": str(path), "line": line, "message": why}])


def _locate(path: Path) -> IngestError | None:
    """The first line that is not UTF-8 or is too long: the slow, exact scan, run only
    once the fast path found the file unreadable."""
    with path.open("rb") as fh:
        n = 0
        while True:
            raw = fh.readline(MAX_ROW_BYTES + 1)
            if not raw:
                return None
            n += 1
            if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
                return _unreadable(path, n, f"line longer than {MAX_ROW_BYTES:,} bytes (rows "
                                            "and fields are bounded)")
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return _unreadable(path, n, f"not UTF-8 text (byte {exc.start + 1} of the "
                                            f"line: {exc.reason})")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def read_rows(path: Path) -> Iterator[Numbered]:
    """(line number, raw fields) of a CSV or JSONL record file.

    Files are read as UTF-8 (a byte-order mark allowed). A byte sequence that is not
    UTF-8, a line longer than MAX_ROW_BYTES or malformed CSV is an error naming its
    line; the fast path reads the file as text and only rescans it, byte by byte, to
    locate such an error."""
    try:
        yield from _rows(path)
    except UnicodeDecodeError:
        raise _locate(path) or _unreadable(path, 1, "not UTF-8 text") from None


def _rows(path: Path) -> Iterator[Numbered]:
    if is_jsonl(path):
        with path.open(encoding="utf-8-sig") as fh:
            for n, line in enumerate(fh, start=1):
                if len(line) > MAX_ROW_BYTES // 4 and len(line.encode()) > MAX_ROW_BYTES:
                    raise _locate(path) or _unreadable(path, n, "line too long")
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line, parse_constant=_no_constants)
                except json.JSONDecodeError as exc:
                    yield n, {"__error__": f"not valid JSON ({exc.msg})"}
                    continue
                except RecursionError:  # found by the fuzzer: `[` × 3000 in a field
                    yield n, {"__error__": "not valid JSON (nested too deep)"}
                    continue
                except ValueError as exc:  # NaN, Infinity, or an integer of 4,300+ digits
                    yield n, {"__error__": f"not valid JSON ({exc})"}
                    continue
                yield n, obj if isinstance(obj, dict) else {
                    "__error__": "each line must be a JSON object"}
        return
    limit = csv.field_size_limit()
    csv.field_size_limit(MAX_ROW_BYTES)  # a field is at most a line's bound
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            try:
                yield from _csv_rows(path, reader)
            except csv.Error as exc:
                raise _locate(path) or _unreadable(path, reader.line_num,
                                                   f"not valid CSV ({exc})") from None
    finally:
        csv.field_size_limit(limit)


def _csv_rows(path: Path, reader: Any) -> Iterator[Numbered]:
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        return
    missing = [f for f in FIELDS if f not in header and f not in OPTIONAL]
    if missing:
        raise IngestError(f"{path}:1: missing column(s): {', '.join(missing)}",
                          [f"{path}:1: header: missing {m}" for m in missing],
                          code="ingest.unreadable",
                          details=[{"file": str(path), "line": 1, "field": m,
                                    "message": "missing column"} for m in missing])
    width = len(header)
    last = 1
    for row in reader:
        n = reader.line_num
        spanned, last = n - last > 1, n
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            yield n, {"__error__": f"expected {width} fields, found {len(row)}"}
            continue
        # a row on one line is bounded by the field limit; one whose quoted fields span
        # lines is measured
        if spanned and sum(len(f) for f in row) > MAX_ROW_BYTES:
            yield n, {"__error__": f"row longer than {MAX_ROW_BYTES:,} characters"}
            continue
        yield n, dict(zip(header, row, strict=True))


def estimate_rows(path: Path) -> int:
    """Rows in a record file, estimated from its size and its first 64 KiB (for
    progress bars: reading the file twice would cost more than the estimate is worth)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        return 0
    lines = head.count(b"\n") or 1
    return int(size / (len(head) / lines)) if head else 0


def write_rejected(path: Path, bad: Sequence[tuple[int, dict[str, Any], list[str]]]) -> Path:
    """Rejected rows beside the input, with their reasons, in the input's own format."""
    if is_jsonl(path):
        out = path.with_name(path.stem + ".rejected.jsonl")
        with out.open("w", encoding="utf-8") as fh:
            for line, raw, errors in bad:
                fh.write(json.dumps({**raw, "_line": line, "_errors": errors}) + "\n")
        return out
    out = path.with_name(path.stem + ".rejected.csv")
    cols: list[str] = []
    for _, raw, _ in bad:
        cols.extend(k for k in raw if k not in cols and k != "__error__")
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["line", *cols, "errors"])
        for line, raw, errors in bad:
            w.writerow([line, *(raw.get(k, "") for k in cols), " | ".join(errors)])
    return out


__all__ = ["Numbered", "estimate_rows", "is_jsonl", "read_rows", "write_rejected"]
