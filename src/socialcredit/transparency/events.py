"""What the ledger writes into the log: canonical JSON events with no personal data.

The log is public, so a leaf names nobody. Where an event concerns a subject it
carries a *commitment*: HMAC-SHA256(salt, subject) in hex, with a random salt per
subject kept in `tlog_subject_salts`, encrypted with a key held outside the database
(keys.py). Without the salt nobody can test a guessed
identity against the log (a plain hash of a national ID number would be brute-forced
in minutes); with it, the subject (who is given its salt) finds every leaf about
itself, and can prove to a court that a listing was logged, when, and on what
records. Deleting a subject's salt makes its leaves unlinkable for good while the
log itself stays intact and verifiable.

Leaf bytes are canonical JSON (sorted keys, no spaces, UTF-8, no floats), so anyone
can rebuild a leaf from its fields and check its hash.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.db import in_keys, mark
from socialcredit.timeutil import now_us
from socialcredit.transparency.checkpoint import checkpoint
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.keys import open_salt, salt_cipher, seal_salt
from socialcredit.transparency.schema import subject_salts
from socialcredit.transparency.store import TransparencyLog

LEAF_VERSION = 1

# kind -> the fields its payload must have (more are allowed). Times are ISO 8601
# strings (timeutil.format_instant), record ids are the ledger's record_id.
EVENT_KINDS: dict[str, tuple[str, ...]] = {
    # a program's rulebook version became public; sha256 of its canonical form
    "rulebook.published": ("program", "version", "sha256", "effective_at"),
    # a catalogue version (the allowlist rulebooks cite) became public
    "catalogue.published": ("catalogue", "version", "sha256", "published_at"),
    # a subject enters a list: when it takes effect, when it ends at the latest,
    # and the records it rests on (reasons: list of record ids)
    "list.entry": ("program", "list", "commitment", "start", "end", "reasons"),
    # a listing ends (end: when; reason: e.g. "resolution", "expiry", "void")
    "list.exit": ("program", "list", "commitment", "end", "reason"),
    # a record was withdrawn after review
    "record.void": ("commitment", "record_id", "void_record_id"),
    # a resolution (e.g. a judgment paid) that ends a listing
    "record.resolution": ("program", "list", "commitment", "record_id", "resolution_record_id"),
    # a batch of decisions: how many and the digest of their canonical records
    "decisions.batch": ("program", "count", "digest"),
    # an ingest stored a batch of records: how many, the RFC 9162 root over their
    # canonical hashes in seq order (socialcredit.ledger.digest), their seq range
    "records.batch": ("batch", "count", "root", "first_seq", "last_seq"),
    # a data provider was registered with its role (providers are organisations)
    "provider.registered": ("provider", "role", "registered_at"),
    # due process. An objection, appeal or repair application was filed
    # (case_kind), with the deadline it must be decided by
    "case.filed": ("commitment", "case_id", "case_kind", "record_id", "filed_at", "due_at"),
    # ... and decided (outcome: upheld, voided, amended, lapsed, accepted, granted, refused)
    "case.decided": ("commitment", "case_id", "case_kind", "record_id", "outcome",
                     "decided_at"),
    # a timely objection suspends a listing's effect from `from` until it is decided
    "list.suspended": ("program", "list", "commitment", "record_id", "from"),
    # an objection upheld: the suspended listing takes effect again at `at`
    "list.resumed": ("program", "list", "commitment", "record_id", "at"),
    # a listing notice was delivered: a listing held for it starts its notice period
    "list.notified": ("program", "list", "commitment", "record_id", "delivered_at"),
    # credit repair granted: the record stops counting at `at` (its listings end then too)
    "record.repaired": ("commitment", "record_id", "at"),
    # retention erased a record's data at `at`; its hash stays for audits
    "record.erased": ("commitment", "record_id", "record_sha256", "at"),
}

# Field names that would put a person in clear into a public log.
_FORBIDDEN_FIELDS = frozenset({"subject", "name", "national_id", "id_number", "phone", "email"})
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def subject_commitment(subject: str, salt: bytes) -> str:
    """HMAC-SHA256(salt, subject) as hex: how a subject appears in a leaf."""
    if len(salt) < 16:
        raise ValueError("a commitment salt needs at least 16 bytes")
    return hmac.digest(salt, subject.encode("utf-8"), "sha256").hex()


def salt_for(conn: Connection, subject: str) -> bytes:
    """The subject's salt, created (32 random bytes) on first use, in the caller's transaction.

    Concurrent first uses agree: the insert does nothing on conflict and the row
    that won is read back.
    """
    return salts_for(conn, [subject])[subject]


def _stored_salts(conn: Connection, subjects: Sequence[str]) -> dict[str, bytes]:
    """The stored (encrypted) salts of those of `subjects` that have one: one statement."""
    if not subjects:
        return {}
    where, keys = in_keys(conn, "subject", subjects)
    return {str(r[0]): bytes(r[1]) for r in conn.exec_driver_sql(
        f"SELECT subject, salt FROM {subject_salts.name} WHERE {where}", (keys,))}


def _insert_salts(conn: Connection, rows: list[tuple[str, bytes, int]]) -> int:
    """New salts, skipping subjects that got one meanwhile (the caller reads back):
    one statement (PostgreSQL: arrays unnested; SQLite: one prepared executemany).
    Returns how many rows were stored (a skipped row is not counted)."""
    name = subject_salts.name
    if conn.dialect.name == "postgresql":
        res = conn.exec_driver_sql(
            f"INSERT INTO {name} (subject, salt, created_at) SELECT * FROM "
            "unnest(%s::text[], %s::bytea[], %s::bigint[]) ON CONFLICT (subject) DO NOTHING",
            ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]))
    else:
        res = conn.exec_driver_sql(
            f"INSERT INTO {name} (subject, salt, created_at) VALUES ({mark(conn)}, "
            f"{mark(conn)}, {mark(conn)}) ON CONFLICT (subject) DO NOTHING", rows)
    return int(res.rowcount)


def salts_for(conn: Connection, subjects: Iterable[str]) -> dict[str, bytes]:
    """subject -> salt for every one of `subjects`, creating the missing ones, in the
    caller's transaction, in bulk: one read of the stored salts, one insert of the new
    ones, whatever the number of subjects (an ingest of a court's feed lists tens of
    thousands of subjects at once). Concurrent first uses agree: the insert skips a
    subject whose salt another transaction stored first, and that salt is read back."""
    keys = sorted(set(subjects))
    if not keys:
        return {}
    stored = _stored_salts(conn, keys)
    cipher = salt_cipher(conn)
    out = {subject: open_salt(conn, subject, sealed, cipher)
           for subject, sealed in stored.items()}
    missing = [k for k in keys if k not in stored]
    if missing:
        # the salts and their nonces in one draw each (not two system calls a subject)
        fresh = os.urandom(32 * len(missing))
        nonces = os.urandom(12 * len(missing))
        now = now_us()
        rows = []
        for i, subject in enumerate(missing):
            salt = fresh[32 * i:32 * i + 32]
            out[subject] = salt
            rows.append((subject, seal_salt(cipher, subject, salt, nonces[12 * i:12 * i + 12]),
                         now))
        # a salt stored by a concurrent first use wins: read back what is stored — only
        # when the insert skipped a row (the usual batch of new subjects stores them all)
        if _insert_salts(conn, rows) == len(rows):
            return out
        for subject, sealed in _stored_salts(conn, missing).items():
            if sealed != rows[bisect_left(missing, subject)][1]:
                out[subject] = open_salt(conn, subject, sealed, cipher)
    return out


def commitment_for(conn: Connection, subject: str) -> str:
    """The subject's commitment, creating its salt if needed: what the ledger puts in leaves."""
    return subject_commitment(subject, salt_for(conn, subject))


def commitments_for(conn: Connection, subjects: Iterable[str]) -> dict[str, str]:
    """subject -> commitment for many subjects at once (salts_for, then one HMAC each)."""
    return {subject: subject_commitment(subject, salt)
            for subject, salt in salts_for(conn, subjects).items()}


def reveal_salt(conn: Connection, subject: str) -> bytes | None:
    """The subject's salt, for the subject (through its access request); None if no
    leaf was ever written about it."""
    row = conn.execute(
        select(subject_salts.c.salt).where(subject_salts.c.subject == subject)
    ).first()
    return None if row is None else open_salt(conn, subject, bytes(row[0]))


def _check_value(path: str, value: Any) -> None:
    if value is None or isinstance(value, bool | int | str):
        return
    if isinstance(value, float):
        raise TransparencyError(
            f"{path}: floats have no canonical JSON form; use a string or an integer"
        )
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_value(f"{path}[{i}]", v)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TransparencyError(f"{path}: object keys must be strings")
            _check_value(f"{path}.{k}", v)
        return
    raise TransparencyError(f"{path}: {type(value).__name__} is not a JSON value")


def _flat(payload: dict[str, Any]) -> bool:
    """Whether a payload is of the shape every event the ledger writes has — text keys;
    text, integers, booleans, None or lists of text as values — and so needs no walk by
    `_check_value` (an ingest writes an event per listing; the walk was a third of
    making its leaf). Anything else is walked, and refused or passed as before."""
    for k, v in payload.items():
        t = type(v)
        if type(k) is not str:
            return False
        if t is str or t is int or v is None or t is bool:
            continue
        if t is list and all(type(x) is str for x in v):
            continue
        return False
    return True


#: One encoder for every leaf (json.dumps with options builds a new one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, compact separators, UTF-8: one byte string per value."""
    return _CANONICAL.encode(value).encode("utf-8")


def _flat_encoder() -> Callable[[dict[str, Any]], str] | None:
    """`_CANONICAL.encode` for a flat object (see `_flat`) without the encoder object
    `JSONEncoder.encode` builds on every call (a third of making an ingest's leaf): the
    same C encoder, with the same options, made once. None where the interpreter's json
    has no C encoder or builds it otherwise (then leaves take `canonical_json`)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    c = _CANONICAL
    try:
        enc = make(None, c.default, json.encoder.encode_basestring, c.indent,  # type: ignore[misc]
                   c.key_separator, c.item_separator, c.sort_keys, c.skipkeys, c.allow_nan)
        probe = {"z": "é\n\"", "a": [1, None, True, "x"], "m": -3, "b": []}
        if "".join(enc(probe, 0)) != c.encode(probe):
            return None
    except TypeError:  # no C encoder (None is not callable), or another signature
        return None

    def encode(value: dict[str, Any]) -> str:
        return "".join(enc(value, 0))

    return encode


_FLAT_ENCODE = _flat_encoder()


def event_leaf(kind: str, payload: dict[str, Any]) -> bytes:
    """The leaf bytes of an event: canonical JSON of {"kind", "v", **payload}.

    Refuses unknown kinds, missing fields, fields that name a person in clear,
    commitments that are not 64 hex digits, and floats.
    """
    required = EVENT_KINDS.get(kind)
    if required is None:
        raise TransparencyError(f"unknown event kind {kind!r}; known: {', '.join(EVENT_KINDS)}")
    missing = [f for f in required if f not in payload]
    if missing:
        raise TransparencyError(f"{kind} event lacks {', '.join(missing)}")
    for reserved in ("kind", "v"):
        if reserved in payload:
            raise TransparencyError(
                f"{kind} event: {reserved!r} is set by the log, not the payload"
            )
    bad = sorted(_FORBIDDEN_FIELDS & payload.keys())
    if bad:
        raise TransparencyError(
            f"{kind} event: field {bad[0]!r} would put personal data in a public log; "
            "use a commitment"
        )
    if "commitment" in payload and not (
        isinstance(payload["commitment"], str) and _HEX64.match(payload["commitment"])
    ):
        raise TransparencyError(f"{kind} event: commitment must be 64 lowercase hex digits")
    if not _flat(payload):
        _check_value(kind, payload)
    elif _FLAT_ENCODE is not None:
        return _FLAT_ENCODE({"kind": kind, "v": LEAF_VERSION, **payload}).encode("utf-8")
    return canonical_json({"kind": kind, "v": LEAF_VERSION, **payload})


#: The payload of the `list.entry` events ingest writes (service/events.py): one per
#: listing, a batch's listings mostly alike but for their subject and record.
_ENTRY_FIELDS = frozenset({"program", "list", "commitment", "start", "end", "reasons",
                           "notice_from"})
_ENTRY_SHELLS_MAX = 4096


def _entry_shell(program: str, list_id: str, start: str, end: str | None,
                 notice_from: str) -> tuple[bytes, bytes, bytes]:
    """The leaf of a `list.entry` event cut around its commitment and its one reason:
    head + commitment + middle + JSON string of the reason + tail (keys in sorted
    order: commitment, end, kind, list, notice_from, program, reasons, start, v)."""
    q = json.encoder.encode_basestring  # what the canonical encoder (no ASCII escapes) uses
    middle = (f'","end":{"null" if end is None else q(end)},"kind":"list.entry",'
              f'"list":{q(list_id)},"notice_from":{q(notice_from)},"program":{q(program)},'
              f'"reasons":[')
    tail = f'],"start":{q(start)},"v":{LEAF_VERSION}}}'
    return b'{"commitment":"', middle.encode("utf-8"), tail.encode("utf-8")


def event_leaves(events: Sequence[tuple[str, dict[str, Any]]]) -> list[bytes]:
    """`event_leaf` of each event, in order (the same bytes, the same refusals). A
    `list.entry` of the shape ingest writes — the fields above, text, one reason, a
    commitment of 64 hex digits — is spelled from a shell made once per (program, list,
    start, end, notice_from): a batch of listings shares few of those, and spelling each
    leaf whole was a tenth of a submission's server time (2026-12-08). Any other event
    goes through `event_leaf`; a property test holds the two equal."""
    out: list[bytes] = []
    add = out.append
    shells: dict[tuple[str, str, str, str | None, str], tuple[bytes, bytes, bytes]] = {}
    q = json.encoder.encode_basestring
    hex64 = _HEX64.match
    for kind, payload in events:
        if kind == "list.entry" and payload.keys() == _ENTRY_FIELDS:
            c, reasons = payload["commitment"], payload["reasons"]
            program, list_id, start = payload["program"], payload["list"], payload["start"]
            end, notice_from = payload["end"], payload["notice_from"]
            if (type(c) is str and len(c) == 64 and hex64(c) and type(reasons) is list
                    and len(reasons) == 1 and type(reasons[0]) is str
                    and type(program) is str and type(list_id) is str
                    and type(start) is str and type(notice_from) is str
                    and (end is None or type(end) is str)):
                key = (program, list_id, start, end, notice_from)
                shell = shells.get(key)
                if shell is None:
                    if len(shells) >= _ENTRY_SHELLS_MAX:
                        shells.clear()
                    shell = shells[key] = _entry_shell(*key)
                head, middle, tail = shell
                add(head + c.encode("ascii") + middle + q(reasons[0]).encode("utf-8") + tail)
                continue
        add(event_leaf(kind, payload))
    return out


def parse_leaf(data: bytes) -> dict[str, Any]:
    """The event a leaf holds (for monitors and subjects scanning the log)."""
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TransparencyError(f"leaf is not JSON: {exc}") from None
    if not isinstance(value, dict) or "kind" not in value:
        raise TransparencyError("leaf is not an event object")
    return value


def log_events(conn: Connection, events: Sequence[tuple[str, dict[str, Any]]]) -> list[int]:
    """Append events and sign a new checkpoint, in the caller's transaction.

    One checkpoint per call, so batch the events of one operation into one call.
    Returns the leaf indexes; nothing happens for an empty list.
    """
    if not events:
        return []
    data = event_leaves(events)
    indexes = TransparencyLog(conn).append(conn, data)
    checkpoint(conn)
    return indexes
