"""A stored notice's detail is `json.dumps(detail, sort_keys=True)`, byte for byte
(ingest encodes thousands of them with one shared encoder; `get` reads them back)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from socialcredit.dueprocess import notices as store
from socialcredit.dueprocess.schema import METADATA, notices

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=6), JSON, max_size=4), min_size=1,
                max_size=5))
def test_details_are_stored_as_json_dumps_with_sorted_keys(details: list[dict[str, Any]]
                                                           ) -> None:
    engine = create_engine("sqlite://")
    METADATA.create_all(engine)
    rows = [store.new("record", "s", 1, notice_id=f"n{i}", detail=d)
            for i, d in enumerate(details)]
    with engine.begin() as conn:
        store.insert(conn, rows)
        got = [d for (d,) in conn.execute(select(notices.c.detail).order_by(notices.c.seq))]
    assert got == [json.dumps(d, sort_keys=True) if d else None for d in details]
