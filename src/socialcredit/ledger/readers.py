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

Numbered = tuple[int, dict[str, Any]]


def is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson", ".json")


def read_rows(path: Path) -> Iterator[Numbered]:
    """(line number, raw fields) of a CSV or JSONL record file."""
    if is_jsonl(path):
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield n, {"__error__": f"not valid JSON ({exc.msg})"}
                    continue
                except RecursionError:  # found by the fuzzer: `[` × 3000 in a field
                    yield n, {"__error__": "not valid JSON (nested too deep)"}
                    continue
                yield n, obj if isinstance(obj, dict) else {
                    "__error__": "each line must be a JSON object"}
        return
    # utf-8-sig: spreadsheets often start CSV files with a byte-order mark
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
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
        for row in reader:
            n = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                yield n, {"__error__": f"expected {width} fields, found {len(row)}"}
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
