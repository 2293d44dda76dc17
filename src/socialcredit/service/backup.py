"""Backups and restores of a whole ledger, consistent while it keeps running.

- SQLite: SQLite's online backup API copies the database page by page inside one read
  transaction, so the copy is one committed state even while writers go on; the copy
  is a SQLite file (created 0600) that opens as a ledger as it is.
- PostgreSQL: `pg_dump --format=custom` of the ledger's schema (one snapshot, like any
  pg_dump), restored by `pg_restore` in one transaction into an empty database. The
  PostgreSQL client binaries must be on PATH, under /usr/lib/postgresql/*/bin, or in
  $SOCIALCREDIT_PG_BINDIR. The password goes to them through the environment
  (PGPASSWORD), never on a command line other users can read.

A backup holds no secret key: the signing and salt keys live in the key directory
(transparency/keys.py), which must be backed up separately, and kept apart from the
database backups (a backup that leaks must not carry the key to its salts). A restored
ledger verifies (`socialcredit verify`) without its keys; writing to it needs them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, make_url, text

from socialcredit.db import is_sqlite, resolve_db_url, sqlite_path
from socialcredit.errors import LedgerError
from socialcredit.ledger.store import Ledger
from socialcredit.transparency.keys import default_key_dir

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
PG_BINDIR_ENV = "SOCIALCREDIT_PG_BINDIR"


def _new_private_file(path: Path) -> None:
    """Create `path` empty and 0600; refuse to overwrite anything."""
    if path.exists() and path.stat().st_size > 0:
        raise LedgerError(f"{path} exists: a backup never overwrites a file",
                          code="backup.invalid")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        os.chmod(path, 0o600)
    except OSError as exc:
        raise LedgerError(f"{path}: cannot write the backup ({exc.strerror})",
                          code="backup.invalid") from None


def _pg_tool(name: str) -> str:
    env = os.environ.get(PG_BINDIR_ENV)
    candidates = [Path(env) / name] if env else []
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                         key=lambda p: [int(x) for x in re.findall(r"\d+", str(p))],
                         reverse=True)
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    raise LedgerError(f"{name} (PostgreSQL's client) is not installed: install the "
                      f"postgresql-client package or set {PG_BINDIR_ENV}",
                      code="backup.invalid")


def _pg_env(url: str) -> dict[str, str]:
    """libpq's environment for a SQLAlchemy PostgreSQL URL (password included)."""
    u = make_url(url)
    env = dict(os.environ)
    for var, value in (("PGHOST", u.host), ("PGPORT", u.port), ("PGUSER", u.username),
                       ("PGPASSWORD", u.password), ("PGDATABASE", u.database)):
        if value is not None:
            env[var] = str(value)
    options = u.query.get("options")
    if options:
        env["PGOPTIONS"] = options if isinstance(options, str) else " ".join(options)
    return env


def _run(argv: list[str], env: dict[str, str], what: str) -> None:
    res = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        last = (res.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise LedgerError(f"{what} failed: {last}", code="backup.invalid")


def _summary(ledger: Ledger) -> dict[str, Any]:
    with ledger.engine.connect() as conn:
        size = conn.execute(text("SELECT size FROM tlog_state")).scalar()
        records = conn.execute(text("SELECT count(*) FROM sc_records")).scalar()
    return {"log_size": int(size or 0), "records": int(records or 0)}


def backup(ledger: Ledger, dest: Path) -> dict[str, Any]:
    """Write a consistent copy of the ledger to `dest` (a new file)."""
    if not ledger.exists():
        raise LedgerError(f"no ledger at {ledger.display_url}", code="ledger.missing")
    _new_private_file(dest)
    try:
        if is_sqlite(ledger.url):
            fmt = "sqlite"
            raw = ledger.engine.raw_connection()
            try:
                target = sqlite3.connect(dest)
                with contextlib.closing(target):
                    raw.driver_connection.backup(target)  # type: ignore[union-attr]
            finally:
                raw.close()
        else:
            fmt = "pg_dump"
            with ledger.engine.connect() as conn:
                schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  f"--schema={schema}", f"--file={dest}"], _pg_env(ledger.url), "pg_dump")
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return {"db": ledger.display_url, "backup": str(dest), "format": fmt,
            "bytes": dest.stat().st_size, **_summary(ledger),
            "keys_not_included": str(default_key_dir(
                str(sqlite_path(ledger.url)) if is_sqlite(ledger.url) else None,
                "sqlite" if is_sqlite(ledger.url) else "postgresql"))}


def restore(src: Path, db: str | None) -> dict[str, Any]:
    """Restore a backup into `db`, which must hold no ledger yet."""
    try:
        with src.open("rb") as f:
            head = f.read(16)
    except OSError:
        raise LedgerError(f"{src}: no such backup", code="not_found") from None
    url = resolve_db_url(db)
    target = Ledger.connect(db)
    try:
        if head.startswith(SQLITE_MAGIC):
            if not is_sqlite(url):
                raise LedgerError("a SQLite backup restores into a SQLite ledger (to move a "
                                  "ledger between databases, export and import it)",
                                  code="backup.invalid")
            path = sqlite_path(url)
            if path is None or (path.exists() and path.stat().st_size > 0):
                raise LedgerError(f"{target.display_url} exists: restore into a new file",
                                  code="backup.invalid")
            target.close()
            _new_private_file(path)
            source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
            with contextlib.closing(source), contextlib.closing(sqlite3.connect(path)) as out:
                source.backup(out)
            fmt = "sqlite"
        elif head.startswith(PG_DUMP_MAGIC):
            if is_sqlite(url):
                raise LedgerError("a pg_dump backup restores into a PostgreSQL ledger (to move "
                                  "a ledger between databases, export and import it)",
                                  code="backup.invalid")
            listing = subprocess.run([_pg_tool("pg_restore"), "--list", str(src)],
                                     capture_output=True, text=True, check=False)
            found = re.search(r" TABLE (\S+) sc_meta ", listing.stdout)
            if listing.returncode != 0 or found is None:
                raise LedgerError(f"{src}: not a backup of a ledger", code="backup.invalid")
            schema = found.group(1)
            if inspect(target.engine).has_table("sc_meta", schema=schema):
                raise LedgerError(f"{target.display_url} already holds a ledger in schema "
                                  f"{schema}: restore into an empty database",
                                  code="backup.invalid")
            argv = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges",
                    "--exit-on-error", "--single-transaction",
                    f"--dbname={make_url(url).database}"]
            with target.engine.connect() as conn:
                exists = conn.execute(text(
                    "SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
                    {"s": schema}).first() is not None
            with tempfile.TemporaryDirectory() as tmp:
                if exists:  # e.g. `public`: restore into it rather than create it again
                    toc = Path(tmp) / "toc.list"
                    toc.write_text("\n".join(
                        line for line in listing.stdout.splitlines()
                        if not re.search(rf" (SCHEMA -|COMMENT - SCHEMA|ACL - SCHEMA) "
                                         rf"{re.escape(schema)} ", line)) + "\n")
                    argv.append(f"--use-list={toc}")
                _run([*argv, str(src)], _pg_env(url), "pg_restore")
            if not target.exists():
                raise LedgerError(f"restored into schema {schema}, which this address does "
                                  f"not search: use options=-csearch_path={schema}",
                                  code="backup.invalid")
            fmt = "pg_dump"
        else:
            raise LedgerError(f"{src}: not a ledger backup (neither SQLite nor pg_dump)",
                              code="backup.invalid")
        restored = Ledger.connect(db)
        try:
            return {"db": restored.display_url, "restored_from": str(src), "format": fmt,
                    **_summary(restored)}
        finally:
            restored.close()
    finally:
        target.close()


__all__ = ["backup", "restore"]
