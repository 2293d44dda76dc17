"""The ledger tests here run on a third backend too: PostgreSQL hash-partitioned by
subject into 8 partitions (ledger/partitioning.py), so the invariants hold on the layout
a national deployment uses (docs/scale.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, PARTITIONED_PG, fresh_db_url


@pytest.fixture(params=[*BACKENDS, PARTITIONED_PG])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend, partitioned PostgreSQL included."""
    yield from fresh_db_url(request, tmp_path, request.param)
