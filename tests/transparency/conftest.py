"""Fixtures for the transparency log tests: one database per test, SQLite and PostgreSQL.

PostgreSQL runs when SOCIALCREDIT_TEST_PG is a postgresql:// URL to a database we may
create schemas in; each test gets its own schema (selected through the connection's
search_path), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, text

from socialcredit.db import make_engine, resolve_db_url

PG_ENV = "SOCIALCREDIT_TEST_PG"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL (as a user would pass to --db) to an empty database."""
    if request.param == "sqlite":
        yield str(tmp_path / "ledger.db")
        return
    # $SOCIALCREDIT_TEST_PG, else the throwaway server the root conftest starts
    base = os.environ.get(PG_ENV) or request.getfixturevalue("pg_server")
    if not base:
        pytest.skip(f"{PG_ENV} is not set and no PostgreSQL binaries were found")
    schema = f"tlog_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(resolve_db_url(base))
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(resolve_db_url(db_url))
    yield eng
    eng.dispose()
