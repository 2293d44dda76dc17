"""Signed tree heads: C2SP checkpoints in C2SP signed notes, signed with Ed25519.

A checkpoint is the log operator's signed statement "my log has N leaves and this
root". Monitors keep the ones they see; two checkpoints that are not consistent
(RFC 9162 §2.1.4) prove the operator rewrote history, and the signatures make
that proof transferable. We use the formats of the Go transparency ecosystem
(c2sp.org/tlog-checkpoint, c2sp.org/signed-note) so that existing witnesses and
verifiers can read ours without any code from this project:

    <origin>\\n
    <tree size, decimal>\\n
    <base64 root hash>\\n
    \\n
    — <key name> <base64(4-byte key ID || 64-byte Ed25519 signature)>\\n

The signature covers the note text (the first three lines, final newline
included). The key ID is SHA-256(key name || 0x0A || 0x01 || public key)[:4].
The verifier key that monitors pin is `<name>+<hex key ID>+<base64(0x01 || public key)>`.

The public key lives in `tlog_keys`; the private key outside the database, in a key
file or behind an external signer (an HSM): see `keys.py`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import Connection, bindparam, func, select, update

from socialcredit.timeutil import format_instant, now_us
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.keys import KeySigner, Signer, log_signer, new_signer
from socialcredit.transparency.schema import checkpoints, create_tables, keys, state
from socialcredit.transparency.store import TransparencyLog, lock_size

ALG_ED25519 = 0x01
EM_DASH = "\u2014"


class NoteError(TransparencyError):
    """A signed note or checkpoint that does not parse or does not verify."""


# ----------------------------------------------------------------------------- keys


def _check_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"bad key name {name!r}: it must be non-empty, without spaces or '+'")


def key_id(name: str, public_key: bytes) -> bytes:
    """The 4-byte key ID of an Ed25519 key as C2SP signed-note recommends."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A trusted Ed25519 note key: name, 4-byte ID and 32-byte public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> Verifier:
        _check_name(name)
        if len(public_key) != 32:
            raise NoteError(f"an Ed25519 public key has 32 bytes, not {len(public_key)}")
        return cls(name, key_id(name, public_key), public_key)

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse `<name>+<hex key ID>+<base64(0x01 || public key)>`."""
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError(f"not a verifier key (name+keyid+key): {vkey.strip()!r}")
        name, hexid, b64 = parts
        try:
            kid = bytes.fromhex(hexid)
            raw = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error):
            raise NoteError(f"malformed verifier key: {vkey.strip()!r}") from None
        if len(kid) != 4 or len(hexid) != 8 or not raw or raw[0] != ALG_ED25519:
            raise NoteError(f"not an Ed25519 verifier key: {vkey.strip()!r}")
        v = cls.from_public_key(name, raw[1:])
        if v.key_id != kid:
            raise NoteError(f"verifier key {name!r}: key ID {hexid} does not match the key")
        return v

    def encode(self) -> str:
        b64 = base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{b64}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_signer_key(skey: str) -> tuple[str, Ed25519PrivateKey]:
    """Parse a Go-style `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>` signer key.

    For importing an existing log key; the key ID is checked against the key.
    """
    parts = skey.strip().split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise NoteError("not a signer key (PRIVATE+KEY+name+keyid+key)")
    name, hexid, b64 = parts[2], parts[3], parts[4]
    try:
        raw = base64.b64decode(b64, validate=True)
    except binascii.Error:
        raise NoteError("malformed signer key") from None
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise NoteError("not an Ed25519 signer key")
    private = Ed25519PrivateKey.from_private_bytes(raw[1:])
    if key_id(name, private.public_key().public_bytes_raw()).hex() != hexid:
        raise NoteError(f"signer key {name!r}: key ID {hexid} does not match the key")
    return name, private


# ----------------------------------------------------------------------------- notes


def sign_note(text: str, name: str, private: Ed25519PrivateKey | Signer) -> str:
    """The signed note: text, blank line, one signature line by `name`."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    _check_text(text)
    _check_name(name)
    signer = KeySigner(private) if isinstance(private, Ed25519PrivateKey) else private
    pub = signer.public_key_bytes()
    sig = signer.sign(text.encode())
    blob = base64.b64encode(key_id(name, pub) + sig).decode()
    return f"{text}\n{EM_DASH} {name} {blob}\n"


def _check_text(text: str) -> None:
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("note contains control characters")


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text if a signature by `verifier` is on it and verifies; else NoteError.

    Signatures by other keys are ignored, as the spec requires; a signature that
    names our key and fails rejects the whole note.
    """
    _check_text(note)
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("malformed note: no blank line between text and signatures")
    text, sigs = note[: cut + 1], note[cut + 2 :]
    found = False
    for line in sigs.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH:
            raise NoteError(f"malformed signature line: {line!r}")
        name, b64 = parts[1], parts[2]
        try:
            blob = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise NoteError(f"malformed signature by {name!r}") from None
        if len(blob) < 5:
            raise NoteError(f"malformed signature by {name!r}")
        if name != verifier.name or blob[:4] != verifier.key_id:
            continue  # someone else's signature (a witness, say): not ours to judge
        if len(blob) != 68 or not verifier.verify(text.encode(), blob[4:]):
            raise NoteError(f"the signature by {name!r} does not verify")
        found = True
    if not found:
        raise NoteError(f"the note carries no signature by {verifier.name!r}")
    return text


# ----------------------------------------------------------------------------- checkpoints


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The body of a C2SP tlog-checkpoint (no extension lines)."""
    if not origin or "\n" in origin:
        raise NoteError(f"bad checkpoint origin {origin!r}")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint_text(text: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint body; extension lines are ignored."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("malformed checkpoint: needs origin, size and root lines")
    origin, size_s, root_s = lines[0], lines[1], lines[2]
    if not origin:
        raise NoteError("malformed checkpoint: empty origin")
    if not size_s.isdigit() or not size_s.isascii() or (size_s != "0" and size_s[0] == "0"):
        raise NoteError(f"malformed checkpoint size {size_s!r}")
    try:
        root = base64.b64decode(root_s, validate=True)
    except binascii.Error:
        raise NoteError(f"malformed checkpoint root {root_s!r}") from None
    if len(root) != 32:
        raise NoteError("malformed checkpoint root: not 32 bytes")
    return origin, int(size_s), root


def verify_checkpoint_note(note: str, verifier: Verifier) -> tuple[str, int, bytes]:
    """Open a signed checkpoint: (origin, size, root), or NoteError."""
    origin, size, root = parse_checkpoint_text(open_note(note, verifier))
    if origin != verifier.name:
        raise NoteError(f"checkpoint origin {origin!r} is not the key's name {verifier.name!r}")
    return origin, size, root


@dataclass(frozen=True)
class Checkpoint:
    """A stored signed tree head."""

    id: int
    size: int
    root: bytes
    note: str
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "size": self.size,
            "root": self.root.hex(),
            "note": self.note,
            "created_at": format_instant(self.created_at),
        }


def create_key(conn: Connection, origin: str) -> str:
    """Create the log's Ed25519 key named `origin`; return its verifier key.

    Called once by the ledger's `init`, in its transaction. Creates the tlog_
    tables when missing. Idempotent for the same origin (returns the existing
    key); a different origin is an error: a log has one identity. The origin
    should be a schema-less URL naming this log, e.g. `credit.example.gov/log`.
    """
    _check_name(origin)
    create_tables(conn)
    row = conn.execute(select(keys.c.name, keys.c.public_key)).first()
    if row is not None:
        if row[0] != origin:
            raise TransparencyError(
                f"this log already has a key named {row[0]!r}; refusing to create {origin!r}"
            )
        return Verifier.from_public_key(row[0], bytes(row[1])).encode()
    pub = new_signer(conn, origin).public_key_bytes()
    conn.execute(
        keys.insert().values(
            id=1,
            name=origin,
            key_id=key_id(origin, pub).hex(),
            public_key=pub,
            private_key=None,  # in the key directory or the external signer (keys.py)
            created_at=now_us(),
        )
    )
    return Verifier.from_public_key(origin, pub).encode()


def log_verifier(conn: Connection) -> Verifier:
    """The log's public key as stored (for monitors: `socialcredit log pubkey`)."""
    row = conn.execute(select(keys.c.name, keys.c.public_key)).first()
    if row is None:
        raise TransparencyError("the log has no signing key yet", code="log.missing")
    return Verifier.from_public_key(row[0], bytes(row[1]))


def _row(r: Any) -> Checkpoint:
    # a root written as TEXT by SQL outside the log still reads (and then fails to match
    # the signed note, which names the checkpoint) rather than crashing the reader
    root = bytes(r.root) if isinstance(r.root, bytes | memoryview) else str(r.root).encode()
    return Checkpoint(int(r.id), int(r.size), root, str(r.note), int(r.created_at))


def checkpoint(conn: Connection) -> Checkpoint:
    """Sign the current tree head, store it and return it (in the caller's transaction).

    Takes the log's write lock so the id sequence (1, 2, 3, ...) has no gaps and no
    append slips between reading the size and signing it. When the latest
    checkpoint already covers the current tree, it is returned as is.
    """
    size = lock_size(conn)
    latest = latest_checkpoint(conn)
    if latest is not None and latest.size == size:
        return latest
    name, private = log_signer(conn)
    root = TransparencyLog(conn).root(size, conn=conn)
    note = sign_note(checkpoint_text(name, size, root), name, private)
    next_id = int(conn.execute(_LAST_ID).scalar_one())
    cp = Checkpoint(next_id + 1, size, root, note, now_us())
    conn.execute(_COUNT_CHECKPOINT, {"n": cp.id})
    conn.execute(_INSERT_CHECKPOINT, {"id": cp.id, "size": cp.size, "root": cp.root,
                                      "note": cp.note, "created_at": cp.created_at})
    return cp


# built once (and so compiled once): a checkpoint is signed for every ingest batch
_LAST_ID = select(func.coalesce(func.max(checkpoints.c.id), 0))
_COUNT_CHECKPOINT = update(state).where(state.c.id == 1).values(
    checkpoints=bindparam("n", type_=state.c.checkpoints.type))
_INSERT_CHECKPOINT = checkpoints.insert()
_LATEST = checkpoints.select().order_by(checkpoints.c.id.desc()).limit(1)


def latest_checkpoint(conn: Connection) -> Checkpoint | None:
    r = conn.execute(_LATEST).first()
    return None if r is None else _row(r)


def list_checkpoints(conn: Connection) -> list[Checkpoint]:
    """All stored checkpoints in id order (as stored: the verifier judges them)."""
    return [_row(r) for r in conn.execute(checkpoints.select().order_by(checkpoints.c.id))]
