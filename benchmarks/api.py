"""HTTP API benchmark (issue 11): decisions and record submission over loopback.

Builds a ledger of `--subjects` people under the shipped `judgment-defaulters` rulebook
(each with a court record; 95 % of them also with the record that resolves it, so 5 %
are listed), materializes every standing (`score --all`), starts `socialcredit serve` as
its own process, and loads it on 127.0.0.1:

- decisions: Debian's `wrk` (apt-get install wrk) posting `rail.g_train_ticket`
  decisions for random subjects with `"materialized": true` as the railway's principal;
  every decision is committed to the decision log (group commit) before it is answered;
- submissions: an asyncio httpx client posting batches of 1,000 new records.

Targets on this 2-core machine: decisions ≥ 5,000 requests/s with p99 ≤ 10 ms;
submission ≥ 50,000 records/s. Prints the figures, the ratio to each target, and the CPU
seconds the server and the load generator each used (they share the 2 cores).

    python benchmarks/api.py [--subjects 200000] [--duration 15] [--connections 16]
                             [--db postgresql://…  (an empty database) | --pg]
                             [--workers 1] [--warm 1000] [--only submissions]
                             [--asgi 20000  (also the API's own CPU, in-process)]
                             [--keep DIR  (a SQLite ledger built once in DIR, reused)]

`--pg` starts a throwaway PostgreSQL server from Debian's binaries (fsync on: decisions
are acknowledged once durably committed) and benchmarks a ledger in it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

DECISIONS_RPS, DECISIONS_P99_MS, SUBMIT_RPS = 5_000.0, 10.0, 50_000.0
HEAD = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def cpu_seconds(pid: int) -> float:
    """User + system seconds of a process and its children (uvicorn's workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
        pids += [int(p) for p in kids.stdout.split()]
    except FileNotFoundError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def loop_seconds(pid: int) -> float:
    """User + system seconds of a process's main thread: with one worker, the event
    loop's (the group committer and the checkpointer have threads of their own)."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / tick


@contextlib.contextmanager
def throwaway_pg(tmp: Path) -> Iterator[str]:
    """A PostgreSQL server of its own for the run, with fsync on (a decision is
    acknowledged once durably committed). Its ledger keys go to `tmp` too."""
    from pgserver import throwaway_pg as server

    from socialcredit.transparency.keys import KEY_DIR_ENV

    os.environ[KEY_DIR_ENV] = str(tmp / "keys")
    with server("-c shared_buffers=1GB", "-c max_connections=200") as url:
        yield url


def build(db: str, subjects: int, tmp: Path) -> dict[str, str]:
    from socialcredit.rulebook.shipped import load_named
    from socialcredit.service import Service

    t0 = time.perf_counter()
    csv = tmp / "records.csv"
    with csv.open("w") as fh:
        fh.write(HEAD)
        for i in range(subjects):
            s = f"P{i:08d}"
            fh.write(f"court-01:r{i},court-01,{s},person,court.refuses_to_perform,2025-06-01,"
                     f"able_but_refuses,urn:case:{i},\n")
            if i % 20:
                fh.write(f"court-01:p{i},court-01,{s},person,court.judgment_performed,"
                         f"2025-07-01,,urn:paid:{i},court-01:r{i}\n")
    with Service.create(load_named("judgment-defaulters"), db) as svc:
        svc.providers.add("court-01", "court")
        rep = svc.records.ingest_file(csv)
        svc.population.score_all()
        tokens = {"railway": svc.principals.add("national_railway", "relying_party")["token"],
                  "court": svc.principals.add("court-api", "provider",
                                              provider="court-01")["token"]}
    print(f"built: {subjects:,} subjects, {rep.accepted:,} records, every standing "
          f"materialized, in {time.perf_counter() - t0:.1f} s")
    return tokens


def wrk(base: str, token: str, subjects: int, duration: int, connections: int,
        tmp: Path) -> dict[str, float]:
    script = tmp / "decide.lua"
    script.write_text(f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
request = function()
  local s = string.format("P%08d", math.random(0, {subjects - 1}))
  local body = '{{"subject":"' .. s .. '","action":"rail.g_train_ticket","materialized":true}}'
  return wrk.format(nil, "/api/v1/decisions", nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format("STATS %d %d %d %d %d %d\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, latency:percentile(50),
    latency:percentile(99), latency:percentile(99.9), summary.duration))
end
""")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration}s",
                          "-s", str(script), base], capture_output=True, text=True,
                         check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"STATS (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    assert m is not None, out
    n, errors, p50, p99, p999, dur = (int(x) for x in m.groups())
    return {"requests": n, "errors": errors, "rps": n / (dur / 1e6), "p50_ms": p50 / 1000,
            "p99_ms": p99 / 1000, "p999_ms": p999 / 1000,
            "client_cpu": (after.ru_utime - before.ru_utime)
            + (after.ru_stime - before.ru_stime)}


async def submit(base: str, token: str, batches: int, size: int, concurrency: int
                 ) -> dict[str, float]:
    import httpx

    bodies = []
    # a run's own mark in every record id and person: a ledger kept by --keep is
    # submitted to again by later runs, whose records and persons must be new to it as
    # well (random batch numbers collided: a run stored 16,000 of its 60,000 records)
    run = time.time_ns() // 1000 % 10**12
    for b in range(batches):
        rows = [{"record_id": f"court-01:s{run}-{b}-{i}", "provider": "court-01",
                 "subject": f"N{run}{b:05d}{i:05d}", "subject_kind": "person",
                 "type": "court.refuses_to_perform", "occurred_at": "2025-09-01",
                 "value": "able_but_refuses", "evidence": f"urn:s:{run}:{b}:{i}"}
                for i in range(size)]
        bodies.append(json.dumps(rows).encode())
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    stored = 0
    before = time.process_time()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal stored
        while not queue.empty():
            body = queue.get_nowait()
            while True:  # a busy ledger answers 503 with Retry-After: retry, as documented
                r = await client.post("/api/v1/records", content=body, headers=headers)
                if r.status_code != 503:
                    break
                await asyncio.sleep(float(r.headers.get("retry-after", "1")))
            r.raise_for_status()
            stored += int(r.json()["accepted"])

    t0 = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    return {"records": stored, "sent": batches * size, "rps": stored / wall, "wall": wall,
            "client_cpu": time.process_time() - before}


async def _through_app(app: object, token: str, subjects: int, n: int,
                       concurrency: int) -> float:
    """Loop-thread CPU µs a decision of `n` decisions about the first `subjects`
    subjects, each a request handed to the ASGI `app` in this process, `concurrency`
    in flight."""
    headers = [(b"host", b"bench"), (b"content-type", b"application/json"),
               (b"authorization", f"Bearer {token}".encode())]

    async def one(subject: int) -> None:
        body = (b'{"subject":"P%08d","action":"rail.g_train_ticket","materialized":true}'
                % subject)
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/api/v1/decisions",
                 "raw_path": b"/api/v1/decisions", "root_path": "", "query_string": b"",
                 "headers": [*headers, (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
        status = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)  # type: ignore[operator]
        assert status == [200], status

    async def client(count: int) -> None:
        for _ in range(count):
            await one(random.randrange(subjects))

    await client(200)  # the token verified once, the subjects' rows cached
    await asyncio.gather(*(client(2000 // concurrency) for _ in range(concurrency)))
    t0 = time.thread_time()
    await asyncio.gather(*(client(n // concurrency) for _ in range(concurrency)))
    return 1e6 * (time.thread_time() - t0) / (n // concurrency * concurrency)


def in_process(db: str, token: str, subjects: int, n: int, rounds: int) -> None:
    """The API's own CPU a cached decision, without sockets, uvicorn or the load
    generator: the app called in this process, with its lean decision handler and (where
    `create_app` can leave it out) without, alternately."""
    from socialcredit.api import create_app

    for r in range(rounds):
        for lean in (True, False):
            try:
                app = create_app(db, rate=1e9, burst=1e9, lean=lean)
            except TypeError:  # code without the choice: its lean handler only
                if not lean:
                    continue
                app = create_app(db, rate=1e9, burst=1e9)
            try:
                cpu = asyncio.run(_through_app(app, token, subjects, n, 16))
            finally:
                app.state.sc.svc.close()
            print(f"in-process round {r + 1}, {'lean handler' if lean else 'FastAPI route'}: "
                  f"{cpu:.1f} µs loop-thread CPU a decision ({n:,} decisions about "
                  f"{subjects:,} subjects, 16 in flight)")


def per_ms(run: dict[str, float]) -> float:
    """Server CPU milliseconds per request of a wrk run."""
    return 1000 * run["server_cpu"] / max(run["requests"], 1)


def cpu_line(run: dict[str, float]) -> str:
    """The server's CPU a request, in µs: all its threads, and its event loop's (the
    main thread's; with several workers, not measured)."""
    n = max(run["requests"], 1)
    return (f"server CPU a decision {1e6 * run['server_cpu'] / n:.0f} µs, of which the "
            f"event loop's thread {1e6 * run.get('loop_cpu', float('nan')) / n:.0f} µs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subjects", type=int, default=200_000)
    ap.add_argument("--duration", type=int, default=15)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--batches", type=int, default=20)
    ap.add_argument("--warm", type=int, default=0,
                    help="also measure decisions about the first N subjects only, asked "
                         "again and again (their rows read and cached once)")
    ap.add_argument("--only", choices=("decisions", "submissions"),
                    help="run one of the two measures (default: both)")
    ap.add_argument("--asgi", type=int, default=0, metavar="N",
                    help="also measure N cached decisions through the app in this "
                         "process (no sockets): the API layer's own CPU")
    ap.add_argument("--size", type=int, default=1000, help="records in a submitted batch")
    ap.add_argument("--db", help="an empty database URL (default: a new SQLite file)")
    ap.add_argument("--pg", action="store_true",
                    help="a throwaway PostgreSQL server of its own (Debian's binaries)")
    ap.add_argument("--keep", type=Path,
                    help="a directory for the SQLite ledger: built there once (with its "
                         "tokens), then reused by later runs with the same --subjects "
                         "(each run adds its decisions to the log)")
    args = ap.parse_args()
    if sum(map(bool, (args.pg, args.db, args.keep))) > 1:
        sys.exit("give at most one of --db, --pg and --keep")
    if args.only != "submissions" and shutil.which("wrk") is None:
        sys.exit("needs wrk: apt-get install wrk")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, Linux {platform.release()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; load average "
          f"before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as d, contextlib.ExitStack() as stack:
        tmp = Path(d)
        home = args.keep / f"{args.subjects}" if args.keep else tmp
        if args.keep:
            from socialcredit.transparency.keys import KEY_DIR_ENV

            home.mkdir(parents=True, exist_ok=True)
            os.environ[KEY_DIR_ENV] = str(home / "keys")
        db = args.db or (stack.enter_context(throwaway_pg(tmp)) if args.pg
                         else f"sqlite:///{home / 'ledger.db'}")
        print(f"ledger: {db.split('://')[0]}; server: socialcredit serve --workers "
              f"{args.workers}; decisions by wrk, {args.connections} connections, 1 thread")
        kept = home / "tokens.json"
        if args.keep and kept.exists():
            tokens = json.loads(kept.read_text())
            print(f"reused: the ledger of {args.subjects:,} subjects in {home}")
        else:
            tokens = build(db, args.subjects, tmp)
            if args.keep:
                kept.write_text(json.dumps(tokens))
        if args.asgi:
            in_process(db, tokens["railway"], args.warm or 1000, args.asgi, 3)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "socialcredit", "serve", "--db", db, "--port", str(port),
             "--workers", str(args.workers), "--rate", "1000000000"],
            stderr=subprocess.DEVNULL)
        try:
            import httpx

            for _ in range(300):
                try:
                    httpx.get(f"{base}/healthz", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            dec = warm = sub = None
            if args.only != "submissions":
                wrk(base, tokens["railway"], args.subjects, 2, args.connections, tmp)  # warm
                s0, l0 = cpu_seconds(server.pid), loop_seconds(server.pid)
                dec = wrk(base, tokens["railway"], args.subjects, args.duration,
                          args.connections, tmp)
                dec["server_cpu"] = cpu_seconds(server.pid) - s0
                dec["loop_cpu"] = loop_seconds(server.pid) - l0 if args.workers == 1 \
                    else float("nan")
            if args.warm and args.only != "submissions":
                wrk(base, tokens["railway"], args.warm, 5, args.connections, tmp)
                s0, l0 = cpu_seconds(server.pid), loop_seconds(server.pid)
                warm = wrk(base, tokens["railway"], args.warm, args.duration,
                           args.connections, tmp)
                warm["server_cpu"] = cpu_seconds(server.pid) - s0
                warm["loop_cpu"] = loop_seconds(server.pid) - l0 if args.workers == 1 \
                    else float("nan")
            if args.only != "decisions":
                s0 = cpu_seconds(server.pid)
                # SQLite has one writer at a time: one client; PostgreSQL: four
                sub = asyncio.run(submit(base, tokens["court"], args.batches, args.size,
                                         1 if db.startswith("sqlite") else 4))
                sub["server_cpu"] = cpu_seconds(server.pid) - s0
        finally:
            server.terminate()
            server.wait(30)
    print()
    print(f"{'measure':48}{'figure':>14}{'target':>12}{'ratio':>9}")
    if dec is not None:
        print(f"{'decisions/s (every one logged)':48}{dec['rps']:>14,.0f}"
              f"{DECISIONS_RPS:>12,.0f}{dec['rps'] / DECISIONS_RPS:>8.2f}x")
        print(f"{'decision latency p50':48}{dec['p50_ms']:>11.2f} ms")
        print(f"{'decision latency p99':48}{dec['p99_ms']:>11.2f} ms"
              f"{DECISIONS_P99_MS:>9.0f} ms{DECISIONS_P99_MS / max(dec['p99_ms'], 1e-9):>8.2f}x")
        print(f"{'decision latency p99.9':48}{dec['p999_ms']:>11.2f} ms")
        print(f"  {dec['requests']:,} decisions in {args.duration} s, {dec['errors']} errors; "
              f"CPU: server {dec['server_cpu']:.1f} s ({per_ms(dec):.2f} ms a decision), "
              f"wrk {dec['client_cpu']:.1f} s")
        print(f"  {cpu_line(dec)}")
    if warm is not None:
        print(f"{f'decisions/s, {args.warm:,} subjects asked again':48}{warm['rps']:>14,.0f}"
              f"{DECISIONS_RPS:>12,.0f}{warm['rps'] / DECISIONS_RPS:>8.2f}x")
        print(f"{'  latency p50':48}{warm['p50_ms']:>11.2f} ms")
        print(f"{'  latency p99':48}{warm['p99_ms']:>11.2f} ms{DECISIONS_P99_MS:>9.0f} ms"
              f"{DECISIONS_P99_MS / max(warm['p99_ms'], 1e-9):>8.2f}x")
        print(f"  {warm['requests']:,} decisions, {warm['errors']} errors; CPU: server "
              f"{warm['server_cpu']:.1f} s ({per_ms(warm):.2f} ms a decision), wrk "
              f"{warm['client_cpu']:.1f} s")
        print(f"  {cpu_line(warm)}")
    if sub is not None:
        print(f"{f'records submitted/s (batches of {args.size:,})':48}{sub['rps']:>14,.0f}"
              f"{SUBMIT_RPS:>12,.0f}{sub['rps'] / SUBMIT_RPS:>8.2f}x")
        print(f"  {sub['records']:,} records in {sub['wall']:.1f} s; CPU: server "
              f"{sub['server_cpu']:.1f} s ({1000 * sub['server_cpu'] / max(sub['records'], 1):.3f}"
              f" ms a record), client {sub['client_cpu']:.1f} s")
        if sub["records"] != sub["sent"]:
            print(f"  WARNING: {sub['sent']:,} records sent, {sub['records']:,} stored: "
                  "the figure is not a measurement")
    print("(ratio > 1 means the target is met)")


if __name__ == "__main__":
    main()
