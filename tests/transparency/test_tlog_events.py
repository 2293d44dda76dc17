"""Event leaves: canonical bytes, no personal data, commitments a subject can find."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from socialcredit.transparency import (
    TransparencyLog,
    commitment_for,
    create_key,
    event_leaf,
    latest_checkpoint,
    log_events,
    parse_leaf,
    reveal_salt,
    salt_for,
    subject_commitment,
)
from socialcredit.transparency.errors import TransparencyError

C = "ab" * 32
BATCH = {"program": "p", "count": 1, "digest": "d"}


def test_commitment_is_hmac_of_subject() -> None:
    salt = b"\x07" * 32
    want = hmac.new(salt, b"P-1001", hashlib.sha256).hexdigest()
    assert subject_commitment("P-1001", salt) == want
    assert subject_commitment("P-1001", b"\x08" * 32) != want
    with pytest.raises(ValueError):
        subject_commitment("P-1001", b"short")


def test_event_leaf_is_canonical_json() -> None:
    leaf = event_leaf(
        "record.void", {"void_record_id": "court:v1", "record_id": "court:1", "commitment": C}
    )
    assert leaf == (
        b'{"commitment":"' + C.encode() + b'","kind":"record.void","record_id":"court:1",'
        b'"v":1,"void_record_id":"court:v1"}'
    )
    assert parse_leaf(leaf)["kind"] == "record.void"
    # same fields in another order: same bytes
    assert leaf == event_leaf(
        "record.void", {"commitment": C, "record_id": "court:1", "void_record_id": "court:v1"}
    )
    uni = event_leaf("decisions.batch", {"program": "荣成", "count": 3, "digest": "00" * 32})
    assert "荣成".encode() in uni and json.loads(uni)["count"] == 3


@pytest.mark.parametrize(
    ("kind", "payload", "match"),
    [
        ("no.such.kind", {}, "unknown event kind"),
        ("record.void", {"commitment": C, "record_id": "r"}, "lacks void_record_id"),
        ("record.void", {"commitment": "P-1001", "record_id": "r", "void_record_id": "v"}, "hex"),
        ("decisions.batch", {**BATCH, "subject": "P-1"}, "personal"),
        ("decisions.batch", {**BATCH, "count": 1.5}, "floats"),
        ("decisions.batch", {**BATCH, "kind": "x"}, "set by the log"),
        ("decisions.batch", {**BATCH, "digest": {1: 2}}, "keys must be strings"),
        # inside lists and objects too (values the flat-payload shortcut leaves to the walk)
        ("decisions.batch", {**BATCH, "reasons": ["a", 1.5]}, "floats"),
        ("decisions.batch", {**BATCH, "reasons": [{"x": 0.5}]}, "floats"),
        ("decisions.batch", {**BATCH, "reasons": {"x": [2.5]}}, "floats"),
        ("decisions.batch", {**BATCH, "reasons": b"x"}, "not a JSON value"),
    ],
)  # fmt: skip
def test_event_leaf_refuses_bad_events(kind: str, payload: dict[str, object], match: str) -> None:
    with pytest.raises(TransparencyError, match=match):
        event_leaf(kind, payload)


def test_salts_log_events_and_a_subject_finds_its_leaves(engine: Engine) -> None:
    with engine.begin() as conn:
        create_key(conn, "credit.example/log")
        assert reveal_salt(conn, "P-1001") is None
        salt = salt_for(conn, "P-1001")
        assert len(salt) == 32 and salt_for(conn, "P-1001") == salt
        mine = commitment_for(conn, "P-1001")
        other = commitment_for(conn, "P-2002")
        first = log_events(
            conn,
            [
                ("rulebook.published", {"program": "rc", "version": "2026.1", "sha256": C,
                                        "effective_at": "2026-01-01T00:00:00Z"}),
                ("list.entry", {"program": "rc", "list": "defaulters", "commitment": mine,
                                "start": "2026-03-11T00:00:00Z", "end": "2028-03-11T00:00:00Z",
                                "reasons": ["court:17"]}),
            ],
        )  # fmt: skip
        second = log_events(
            conn,
            [("list.entry", {"program": "rc", "list": "defaulters", "commitment": other,
                             "start": "2026-03-12T00:00:00Z", "end": "2028-03-12T00:00:00Z",
                             "reasons": ["court:18"]}),
             ("record.resolution", {"program": "rc", "list": "defaulters", "commitment": mine,
                                    "record_id": "court:17", "resolution_record_id": "court:19"})],
        )  # fmt: skip
        assert log_events(conn, []) == []
    assert (first, second) == ([0, 1], [2, 3])
    with engine.connect() as conn:
        cp = latest_checkpoint(conn)
        assert cp is not None and (cp.id, cp.size) == (2, 4)  # one checkpoint per call
        revealed = reveal_salt(conn, "P-1001")
    # The subject, given its salt, scans the public leaves for its commitment.
    assert revealed is not None
    c = subject_commitment("P-1001", revealed)
    leaves = TransparencyLog(engine).leaves()
    found = [i for i, d in enumerate(leaves) if parse_leaf(d).get("commitment") == c]
    assert found == [1, 3]
    assert all(b"P-1001" not in d for d in leaves)  # nobody in clear


def test_a_salt_stored_meanwhile_by_another_first_use_wins(
        engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """salts_for reads the stored salts, then inserts the missing ones, skipping any
    stored meanwhile by a concurrent first use: when its insert skipped one, the salt
    stored first is the answer (read back); when it stored them all, nothing is read
    back and the fresh salts are the answer."""
    from socialcredit.transparency import events as ev
    from socialcredit.transparency.keys import salt_cipher, seal_salt

    real = ev._stored_salts
    reads: list[list[str]] = []
    theirs = b"\x07" * 32

    def racing(conn: Any, subjects: Sequence[str]) -> dict[str, bytes]:
        got = real(conn, subjects)
        if not reads:  # right after the first read, another first use stores P-2's salt
            ev._insert_salts(conn, [("P-2", seal_salt(salt_cipher(conn), "P-2", theirs), 1)])
        reads.append(list(subjects))
        return got

    with engine.begin() as conn:
        create_key(conn, "credit.example/log")
        monkeypatch.setattr(ev, "_stored_salts", racing)
        out = ev.salts_for(conn, ["P-1", "P-2", "P-3"])
        assert out["P-2"] == theirs and len({*out.values()}) == 3
        assert reads == [["P-1", "P-2", "P-3"], ["P-1", "P-2", "P-3"]]  # read back
        reads.clear()
        fresh = ev.salts_for(conn, ["P-1", "P-4", "P-5"])
        assert reads == [["P-1", "P-4", "P-5"]]  # all stored: nothing read back
        monkeypatch.setattr(ev, "_stored_salts", real)
        assert ev.salts_for(conn, ["P-1", "P-2", "P-3", "P-4", "P-5"]) == {**out, **fresh}


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
_VALUE = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), _TEXT,
                   st.lists(_TEXT, max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_TEXT.filter(lambda k: k not in {"kind", "v", "commitment", "subject",
                                                        "name", "national_id", "id_number",
                                                        "phone", "email"}),
                       _VALUE, max_size=6), _TEXT, _TEXT)
def test_a_flat_leaf_is_spelled_as_json_dumps_spells_it(extra: dict[str, Any], provider: str,
                                                        role: str) -> None:
    """Leaves of flat payloads take an encoder made once (`_flat_encoder`): the bytes are
    those of json.dumps with the canonical options, whatever the text and numbers."""
    payload = {**extra, "provider": provider, "role": role, "registered_at": "x"}
    from socialcredit.transparency import events as ev

    assert ev._FLAT_ENCODE is not None  # CPython's C encoder: the fast spelling is taken
    want = json.dumps({"kind": "provider.registered", "v": 1, **payload}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert event_leaf("provider.registered", payload) == want
