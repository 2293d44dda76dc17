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


_HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
_ENTRY_TEXT = st.one_of(_TEXT, st.sampled_from(["2026-12-08T02:00:00Z", "é\n\"\\", "\ud800"]))


@st.composite
def _entry(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A list.entry event, mostly of the shape ingest writes, sometimes not (a bad
    commitment, no or two reasons, a field of another type, one field more or less)."""
    shared = draw(st.sampled_from([("rongcheng", "blacklist"), ("jd", "défaillants")]))
    payload: dict[str, Any] = {
        "program": shared[0], "list": shared[1],
        "commitment": draw(st.one_of(_HEX, _HEX.map(lambda h: h + "\n"),
                                     _HEX.map(str.upper), _TEXT)),
        "start": draw(st.sampled_from(["2026-12-08T02:00:00Z", "2026-12-09T00:00:00Z"])),
        "end": draw(st.one_of(st.none(), st.just("2031-12-08T02:00:00Z"), _ENTRY_TEXT)),
        "reasons": draw(st.one_of(st.lists(_ENTRY_TEXT, min_size=1, max_size=1),
                                  st.lists(_ENTRY_TEXT, max_size=2))),
        "notice_from": draw(st.one_of(st.just("2026-12-08T02:00:00Z"), _ENTRY_TEXT,
                                      st.integers(0, 9)))}
    change = draw(st.sampled_from(["none"] * 6 + ["drop", "add", "int_end", "tuple"]))
    if change == "drop":
        del payload[draw(st.sampled_from(sorted(payload)))]
    elif change == "add":
        payload[draw(st.sampled_from(["subject", "kind", "extra"]))] = "x"
    elif change == "int_end":
        payload["end"] = 5
    elif change == "tuple":
        payload["reasons"] = tuple(payload["reasons"])
    return "list.entry", payload


def _outcome(make: Any) -> Any:
    try:
        return make()
    except (TransparencyError, UnicodeEncodeError, TypeError) as exc:
        return type(exc).__name__, str(exc) if isinstance(exc, TransparencyError) else ""


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_entry(), st.tuples(st.just("provider.registered"), st.fixed_dictionaries(
    {"provider": _TEXT, "role": _TEXT, "registered_at": _TEXT}))), max_size=8))
def test_event_leaves_spell_what_event_leaf_spells(events: list[tuple[str, dict[str, Any]]]
                                                  ) -> None:
    """`event_leaves` (list.entry leaves from shells made once) gives the bytes, and
    refuses the events, exactly as `event_leaf` does one by one, in order."""
    from socialcredit.transparency import events as ev

    plain = _outcome(lambda: [event_leaf(k, p) for k, p in events])
    assert _outcome(lambda: ev.event_leaves(events)) == plain


def test_event_leaves_take_the_shell_for_ingest_listings(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """The shape ingest writes is spelled from a shell (the fast path is taken) and its
    bytes parse back to the event."""
    from socialcredit.transparency import events as ev

    payload = {"program": "rongcheng", "list": "blacklist", "commitment": "ab" * 32,
               "start": "2026-12-08T02:00:00Z", "end": None, "reasons": ["court-01:f1"],
               "notice_from": "2026-12-08T02:00:00Z"}
    calls: list[str] = []
    real = ev._entry_shell

    def counted(*a: Any) -> tuple[bytes, bytes, bytes]:
        calls.append("shell")
        return real(*a)

    monkeypatch.setattr(ev, "_entry_shell", counted)
    leaves = ev.event_leaves([("list.entry", payload), ("list.entry", {
        **payload, "commitment": "cd" * 32, "reasons": ["court-01:f2"]})])
    assert calls == ["shell"]
    assert [parse_leaf(x) for x in leaves] == [
        {"kind": "list.entry", "v": 1, **payload},
        {"kind": "list.entry", "v": 1, **payload, "commitment": "cd" * 32,
         "reasons": ["court-01:f2"]}]
