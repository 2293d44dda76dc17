"""Untrusted input, fuzzed: record files and rulebooks fail cleanly or load, never crash,
and a refused record file stores nothing."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.errors import IngestError, RulebookError
from socialcredit.ledger import Ledger
from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from tests.conftest import Clock
from tests.helpers import BASE, catalogue_for_tests

FIELDS = ["record_id", "provider", "subject", "subject_kind", "type", "occurred_at", "value",
          "evidence", "ref"]
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

cell = st.one_of(
    st.sampled_from(["", "a1", "bank-1", "court-1", "rev-1", "alice", "person", "organization",
                     "arrears", "bonus", "hours", "paid", "void", "2025-12-01",
                     "2025-12-01T10:00:00Z", "2025-12-01T10:00:00", "NaN", "1e309", "-5",
                     "91350100M000100Y43", "x" * 500, "\u0000", "\"", "é", "a1,b"]),
    st.text(max_size=20),
)


def fresh(tmp: Path) -> Ledger:
    svc = Service.create(parse_rulebook(BASE), str(tmp / "f.db"), clock=Clock(),
                   catalogue=catalogue_for_tests())
    for p, role in {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}.items():
        svc.providers.add(p, role)
    return svc


@SETTINGS
@given(rows=st.lists(st.lists(cell, min_size=9, max_size=9), min_size=1, max_size=8),
       jsonl=st.booleans())
def test_record_files_fail_cleanly_and_atomically(rows, jsonl) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        svc = fresh(tmp)
        if jsonl:
            f = tmp / "r.jsonl"
            f.write_text("\n".join(json.dumps(dict(zip(FIELDS, r, strict=True)))
                                   for r in rows) + "\n", encoding="utf-8")
        else:
            import csv

            f = tmp / "r.csv"
            with f.open("w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(FIELDS)
                w.writerows(rows)
        try:
            rep = svc.records.ingest_file(f)
        except IngestError as exc:
            assert str(f) in str(exc)
            assert svc.ledger.count_records() == 0  # nothing half-written
        else:
            assert rep.rejected == 0
            assert svc.ledger.count_records() == rep.accepted
        svc.close()


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text_is_never_a_crash_as_a_rulebook(text: str) -> None:
    try:
        parse_rulebook(text, "fuzz.yaml")
    except RulebookError as exc:
        assert "fuzz.yaml" in str(exc)


@SETTINGS
@given(data=st.data())
def test_mutated_rulebooks_fail_with_a_location(data: st.DataObject) -> None:
    lines = BASE.splitlines()
    i = data.draw(st.integers(0, len(lines) - 1))
    mutation = data.draw(st.sampled_from(["delete", "dup", "garble", "number"]))
    if mutation == "delete":
        del lines[i]
    elif mutation == "dup":
        lines.insert(i, lines[i])
    elif mutation == "garble":
        lines[i] = lines[i][: data.draw(st.integers(0, len(lines[i])))] + data.draw(
            st.text(max_size=8))
    else:
        lines[i] = lines[i].replace("1", "-1")
    try:
        parse_rulebook("\n".join(lines), "m.yaml")
    except RulebookError as exc:
        assert "m.yaml" in str(exc)


# -- hostile YAML, generated: every rulebook input is bounded in time and memory --------------

YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=5),
    max_leaves=60)


@SETTINGS
@given(value=YAML_VALUES, wrap=st.integers(0, 80), flow=st.booleans(),
       aliases=st.integers(0, 12), digits=st.integers(0, 6000))
def test_generated_yaml_is_refused_or_loaded_within_bounds(value, wrap, flow, aliases,
                                                          digits) -> None:
    """Any YAML (nested `wrap` levels deep, with a chain of `aliases` anchors each used
    nine times, and a number of `digits` digits) loads or is refused naming the file, in
    bounded time and memory: no RecursionError, no ValueError, no blow-up."""
    import time
    import tracemalloc

    import yaml

    body = yaml.safe_dump(value, default_flow_style=flow)
    text = ("[" * wrap + body.strip() + "]" * wrap) if flow else \
        "".join("  " * i + f"k{i}:\n" for i in range(wrap)) + "  " * wrap + "v: 1\n"
    if aliases:
        chain = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        chain += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]"
                  for i in range(1, aliases + 1)]
        text = "\n".join(chain) + "\n" + text if not flow else text + "\n"
    if digits:
        text += f"\nn: {'7' * digits}\n"
    text = text[:64 * 1024]  # the input-size bound of this fuzzer
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        parse_rulebook(text, "gen.yaml")
    except RulebookError as exc:
        assert "gen.yaml" in str(exc)
    finally:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert seconds < 10 and peak < 64 * 1024 * 1024, (seconds, peak)
