"""A throwaway PostgreSQL server for a benchmark run, started the way tests/conftest.py
starts one (Debian's server refuses to run as root: as the postgres user then), stopped
and removed when the run ends. Benchmarks that measure durability keep fsync on; those
that measure computation pass `-F`."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    bindirs = [Path(found).resolve().parent] if found else sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    return next((b for b in bindirs if (b / "pg_ctl").exists()), None)


@contextlib.contextmanager
def throwaway_pg(*options: str) -> Iterator[str]:
    """The URL of a new server on 127.0.0.1, with `options` passed to postgres (e.g.
    "-F", "-c shared_buffers=1GB")."""
    bindir = _bindir()
    if bindir is None:
        sys.exit("no PostgreSQL server binaries: apt-get install postgresql, or pass --pg URL")
    data = Path(tempfile.mkdtemp(prefix="scbench-pg-"))
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = int(sk.getsockname()[1])
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if prefix:
        shutil.chown(data, "postgres", "postgres")
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data / "db"), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l",
                    str(data / "log"), "-o",
                    " ".join([f"-p {port} -k {data} -h 127.0.0.1", *options]), "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast",
                        "stop"], capture_output=True, check=False)
        shutil.rmtree(data, ignore_errors=True)
