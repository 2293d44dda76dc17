"""A time-boxed fuzzing run over a seed corpus (issue 14, "Fuzzing").

The corpus (tests/fuzz/corpus/) holds good rulebooks and record files and the hostile
inputs issue 14 found (an alias bomb, `[` × 5000, a 5,000-digit integer, a merge key,
`.inf`, deep block nesting, nested JSON, extreme numbers and instants). Each round,
Hypothesis (with a new seed) mutates corpus files — flipped bytes, spliced YAML and CSV
tokens, repeated and deleted spans — and every mutant must either load or be refused
with an error naming the file, within an input-size bound (64 KiB), a memory bound
(tracemalloc peak) and a time bound per input. Rounds go on until the time budget is
spent: $SOCIALCREDIT_FUZZ_SECONDS (default 20; CI runs the suite with the default, so
the run is bounded well under a minute). A longer local run:

    SOCIALCREDIT_FUZZ_SECONDS=600 pytest tests/fuzz -q
"""

from __future__ import annotations

import os
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from socialcredit.errors import IngestError, RulebookError
from socialcredit.rulebook import load_rulebook, parse_rulebook
from socialcredit.service import Service
from tests.conftest import Clock
from tests.helpers import BASE, catalogue_for_tests

CORPUS = Path(__file__).resolve().parent / "corpus"
BUDGET = float(os.environ.get("SOCIALCREDIT_FUZZ_SECONDS", "20"))
MAX_INPUT = 64 * 1024
MAX_PEAK = 64 * 1024 * 1024  # bytes traced while loading one input
MAX_SECONDS = 10.0  # per input: PyYAML reads ~100 KB/s, inputs have at most 64 KiB, and
# the bound must hold on a machine busy with other work
PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}

TOKENS = [b"*a0", b"&a0 ", b"[", b"{", b"]", b"}", b"\n", b"- ", b": ", b"'", b'"', b"#",
          b"9" * 30, b".inf", b".nan", b"\x00", b"\t", b"<<: *d\n", b"\xff\xfe",
          b"!!python/object/apply:os.system ['true']", b"%YAML 1.1\n---\n", b"\\u0000",
          b"1e309", b"-", b",", b"\r\n", b"\xef\xbb\xbf", b"0x1F", b"9999-12-31T23:59:59Z"]


def seeds(kind: str) -> list[Path]:
    return sorted((CORPUS / kind).iterdir())


@st.composite
def mutant(draw: st.DrawFn, kind: str) -> tuple[str, bytes]:
    path = draw(st.sampled_from(seeds(kind)))
    data = bytearray(path.read_bytes())
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "repeat"]))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            at = min(at, len(data) - 1)
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            token = draw(st.sampled_from(TOKENS))
            data[at:at] = token * draw(st.integers(1, 40))
        elif op == "delete":
            del data[at:at + draw(st.integers(1, 200))]
        else:
            span = bytes(data[at:at + draw(st.integers(1, 300))])
            data[at:at] = span * draw(st.integers(1, 20))
    return path.suffix, bytes(data[:MAX_INPUT])


def bounded(fn: Callable[[], None]) -> None:
    """Run one input under the time and memory bounds."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        fn()
    finally:
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert seconds < MAX_SECONDS, f"{seconds:.1f} s for one input"
    assert peak < MAX_PEAK, f"{peak / 1e6:.0f} MB for one input"


def load_rulebook_file(tmp: Path, suffix: str, data: bytes) -> None:
    f = tmp / f"fuzz{suffix}"
    f.write_bytes(data)
    try:
        load_rulebook(f)
    except RulebookError as exc:
        assert str(f) in exc.message, exc.message


def ingest_file(svc: Service, tmp: Path, suffix: str, data: bytes) -> None:
    f = tmp / f"fuzz{suffix}"
    f.write_bytes(data)
    before = svc.ledger.count_records()
    try:
        rep = svc.records.ingest_file(f)
    except IngestError as exc:
        assert str(f) in exc.message, exc.message
        assert svc.ledger.count_records() == before  # nothing half-written
    else:
        assert svc.ledger.count_records() == before + rep.accepted


def one_round(n: int, tmp: Path) -> int:
    """Fuzz rulebooks and record files with Hypothesis seed `n`; return the inputs run."""
    ran = 0
    svc = Service.create(parse_rulebook(BASE), str(tmp / f"round-{n}.db"), clock=Clock(),
                         catalogue=catalogue_for_tests())
    for p, role in PROVIDERS.items():
        svc.providers.add(p, role)

    @seed(n)
    @settings(max_examples=15, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(rulebook=mutant("rulebooks"), records=mutant("records"))
    def run(rulebook: tuple[str, bytes], records: tuple[str, bytes]) -> None:
        nonlocal ran
        bounded(lambda: load_rulebook_file(tmp, *rulebook))
        bounded(lambda: ingest_file(svc, tmp, *records))
        ran += 2

    try:
        run()
    finally:
        svc.close()
    return ran


def test_corpus_seeds_load_or_fail_cleanly(tmp_path: Path) -> None:
    """Every seed as it is: the good ones load, the hostile ones are refused cleanly."""
    for f in seeds("rulebooks"):
        bounded(lambda f=f: load_rulebook_file(tmp_path, f.suffix, f.read_bytes()))
    svc = Service.create(parse_rulebook(BASE), str(tmp_path / "seeds.db"), clock=Clock(),
                         catalogue=catalogue_for_tests())
    for p, role in PROVIDERS.items():
        svc.providers.add(p, role)
    for f in seeds("records"):
        bounded(lambda f=f: ingest_file(svc, tmp_path, f.suffix, f.read_bytes()))
    assert svc.ledger.count_records() > 0  # the good seeds went in
    svc.close()


def test_a_time_boxed_fuzzing_run_over_the_corpus() -> None:
    start = time.monotonic()
    rounds = inputs = 0
    with tempfile.TemporaryDirectory() as d:
        while time.monotonic() - start < BUDGET:
            inputs += one_round(int.from_bytes(os.urandom(4), "big"), Path(d))
            rounds += 1
    elapsed = time.monotonic() - start
    assert rounds >= 1 and inputs > 0
    # a round is ~15 inputs pairs bounded at MAX_SECONDS each: the run stays bounded
    assert elapsed < BUDGET + 30 * MAX_SECONDS, elapsed
