"""The canonical hash of a stored record: the one definition ingest and verify share.

A record's canonical form is the JSON array

    [1, record_id, provider, subject, type, kind, occurred_at, recorded_at,
     value_num, value_text, evidence, ref]

or, for a record that also stores when this ledger learned it (a backfill or an import
keeps `ingested_at`), the version-2 array

    [2, record_id, provider, subject, type, kind, occurred_at, recorded_at,
     value_num, value_text, evidence, ref, ingested_at]

with no whitespace, strings in UTF-8 as they are (not \\u-escaped), instants as integer
microseconds, `value_num` as Python's shortest round-trip float text (`-1000.0`; minus
zero as `0.0`), and absent values as `null`; the leading number is the format's
version. A record without `ingested_at` keeps the version-1 form, so every hash stored
before `ingested_at` existed still verifies after `db upgrade`, while a backfilled
record's `ingested_at` (which starts its notice period) cannot be edited unnoticed. It
is byte for byte what `json.dumps(array, ensure_ascii=False, separators=(",", ":"))`
gives, so anyone can rebuild it from an export. The record's hash is the RFC 9162
leaf hash of those bytes, SHA-256(0x00 ‖ bytes), so a batch's records are the leaves
of an ordinary Merkle tree whose root the public log holds (`records.batch` leaves).

Written with string formatting rather than `json.dumps` because ingest hashes every
record it stores: this takes about half the time, and a test holds the two equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from json.encoder import encode_basestring as _json_str
from typing import Any

#: The fields a record's hash covers, in order (the ledger's RECORD_COLUMNS minus the
#: columns that carry the hash and its batch).
HASHED_FIELDS = ("record_id", "provider", "subject", "type", "kind", "occurred_at",
                 "recorded_at", "value_num", "value_text", "evidence", "ref", "ingested_at")
RECORD_HASH_VERSION = 1
#: The form of a record that stores `ingested_at`.
RECORD_HASH_VERSION_INGESTED = 2
_LEAF_PREFIX = b"\x00"  # RFC 9162 §2.1.1: leaf hashes are SHA-256(0x00 || data)


def _opt(v: str | None) -> str:
    return "null" if v is None else str(_json_str(v))


def record_json(fields: Sequence[Any]) -> str:
    """The canonical JSON text of a record given in HASHED_FIELDS order.

    Raises TypeError when a field holds a value of the wrong type (a string where an
    instant belongs, a number where text belongs): such a row was not written by
    ingest, and verify names it."""
    (rid, provider, subject, type_, kind, occurred, recorded, num, text, evidence, ref,
     ingested) = fields
    if not (type(occurred) is int and type(recorded) is int
            and (ingested is None or type(ingested) is int)):
        raise TypeError("instants must be integers")
    if num is not None and type(num) is not float:
        if type(num) is not int:
            raise TypeError("value_num must be a number")
        num = float(num)
    for v in (rid, provider, subject, type_, kind, text, evidence, ref):
        if v is not None and type(v) is not str:
            raise TypeError("text fields must be strings")
    value = "null" if num is None else repr(num + 0.0)  # + 0.0 turns -0.0 into 0.0
    head = RECORD_HASH_VERSION if ingested is None else RECORD_HASH_VERSION_INGESTED
    tail = "]" if ingested is None else f",{ingested}]"
    return (f"[{head},{_json_str(rid)},{_json_str(provider)},"
            f"{_json_str(subject)},{_json_str(type_)},{_json_str(kind)},{occurred},"
            f"{recorded},{value},{_opt(text)},{_opt(evidence)},{_opt(ref)}{tail}")


def record_hash(fields: Sequence[Any]) -> bytes:
    """SHA-256(0x00 ‖ UTF-8 of the canonical JSON): the record's leaf hash."""
    data = record_json(fields).encode("utf-8", "surrogatepass")
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def record_hashes(rows: Iterable[Sequence[Any]]) -> list[bytes]:
    """`record_hash` of many records (HASHED_FIELDS order), in one loop: ingest hashes
    every record it stores, and the per-record calls, tuple unpacking and checks of
    `record_hash` were half its cost. A row of the shape ingest makes (integer instants,
    a float or no number, no `ingested_at`) is formatted here, its text fields by the
    JSON encoder (which refuses anything but text); any other row goes through
    `record_hash` itself (same bytes, same TypeError). A test holds the two equal."""
    sha = hashlib.sha256
    js = _json_str
    out: list[bytes] = []
    add = out.append
    for fields in rows:
        (rid, provider, subject, type_, kind, occurred, recorded, num, text, evidence, ref,
         ingested) = fields
        if (ingested is not None or type(occurred) is not int or type(recorded) is not int
                or (num is not None and type(num) is not float)):
            add(record_hash(fields))
            continue
        try:
            data = (f"\x00[1,{js(rid)},{js(provider)},{js(subject)},{js(type_)},"
                    f"{js(kind)},{occurred},{recorded},"
                    f"{'null' if num is None else repr(num + 0.0)},"
                    f"{'null' if text is None else js(text)},"
                    f"{'null' if evidence is None else js(evidence)},"
                    f"{'null' if ref is None else js(ref)}]")
        except TypeError:  # a text field that is not text: record_hash says so
            add(record_hash(fields))
            continue
        add(sha(data.encode("utf-8", "surrogatepass")).digest())
    return out


__all__ = ["HASHED_FIELDS", "RECORD_HASH_VERSION", "RECORD_HASH_VERSION_INGESTED",
           "record_hash", "record_hashes", "record_json"]
