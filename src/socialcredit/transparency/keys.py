"""The log's secrets, kept outside the ledger's database.

Two secrets: the Ed25519 key that signs checkpoints, and the AES-256-GCM key that
encrypts the per-subject salts (without a salt nobody can link a commitment in the
public log to a subject, so salts stolen with the database would undo the log's
privacy). Both live as files in a *key directory*:

- `$SOCIALCREDIT_KEY_DIR` when set (production: a directory on another volume, or a
  mounted secret, readable only by the ledger's service account);
- else, for a SQLite ledger, `<database file>.keys/` beside it;
- else (PostgreSQL) `$XDG_DATA_HOME/socialcredit/keys` (`~/.local/share/...`).

The directory is created 0700 and every key file 0600. Files are named by what the
database records of the key (never the key itself): `signing-<16 hex>.key` holds the
signer key in the Go note format `PRIVATE+KEY+<name>+<key id>+<base64>`, and
`salts-<16 hex>.key` the salt key in hex. A ledger database then holds only public
halves and key ids.

Instead of a key file, signing may go through an external signer (an HSM, a KMS):
`SOCIALCREDIT_SIGNER=package.module:factory` names a callable that takes the log's
name and returns an object with `public_key_bytes()` and `sign(message) -> signature`.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, select, update

from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.schema import keys, state, subject_salts

KEY_DIR_ENV = "SOCIALCREDIT_KEY_DIR"
SIGNER_ENV = "SOCIALCREDIT_SIGNER"
SALT_FORMAT = 1  # first byte of an encrypted salt: 1 || nonce (12) || ciphertext+tag (48)
_AAD = b"socialcredit subject salt\x00"


class Signer(Protocol):
    """What signs checkpoints: a key file, or an HSM behind the same two methods."""

    def public_key_bytes(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class KeySigner:
    """An Ed25519 private key held in this process."""

    private: Ed25519PrivateKey

    def public_key_bytes(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def default_key_dir(database: str | None, dialect: str) -> Path:
    """Where a ledger's keys live unless $SOCIALCREDIT_KEY_DIR says otherwise."""
    env = os.environ.get(KEY_DIR_ENV)
    if env:
        return Path(env)
    if dialect == "sqlite" and database and database != ":memory:":
        db = Path(database)
        return db.parent / f"{db.name}.keys"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "socialcredit" / "keys"


def _fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class KeyStore:
    """The key files of one key directory."""

    _cache: ClassVar[dict[tuple[str, int], object]] = {}  # (path, mtime_ns) -> loaded key

    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @classmethod
    def for_connection(cls, conn: Connection) -> KeyStore:
        url = conn.engine.url
        return cls(default_key_dir(url.database, url.get_backend_name()))

    # -- files ----------------------------------------------------------------------

    def _write(self, name: str, content: str) -> Path:
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self.dir / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(content)
            os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT
        except OSError as exc:
            raise TransparencyError(f"cannot write a key to {self.dir} ({exc.strerror}); "
                                    f"set {KEY_DIR_ENV} to a writable directory") from None
        return path

    def _read(self, name: str, what: str) -> tuple[str, Path, int]:
        path = self.dir / name
        try:
            stat = path.stat()
            return path.read_text(encoding="utf-8").strip(), path, stat.st_mtime_ns
        except OSError:
            raise TransparencyError(
                f"{what} is not in {self.dir} (no {name}): the ledger's keys live outside "
                f"its database; set {KEY_DIR_ENV} to the directory that holds them",
                code="log.missing") from None

    # -- the signing key --------------------------------------------------------------

    @staticmethod
    def signing_file(public_key: bytes) -> str:
        return f"signing-{_fingerprint(public_key)}.key"

    def write_signing_key(self, name: str, private: Ed25519PrivateKey) -> Path:
        from socialcredit.transparency.checkpoint import key_id

        pub = private.public_key().public_bytes_raw()
        seed = base64.b64encode(b"\x01" + private.private_bytes_raw()).decode()
        return self._write(self.signing_file(pub),
                           f"PRIVATE+KEY+{name}+{key_id(name, pub).hex()}+{seed}\n")

    def signer(self, name: str, public_key: bytes) -> Signer:
        from socialcredit.transparency.checkpoint import parse_signer_key

        text, path, mtime = self._read(self.signing_file(public_key),
                                       "the log's signing key")
        cached = self._cache.get((str(path), mtime))
        if isinstance(cached, KeySigner):
            return cached
        file_name, private = parse_signer_key(text)
        signer = KeySigner(private)
        if file_name != name or signer.public_key_bytes() != public_key:
            raise TransparencyError(f"{path} holds another key than the log's")
        self._cache[(str(path), mtime)] = signer
        return signer

    # -- the salt key -----------------------------------------------------------------

    def create_salt_key(self) -> str:
        key = AESGCM.generate_key(bit_length=256)
        kid = _fingerprint(key)
        self._write(f"salts-{kid}.key", key.hex() + "\n")
        return kid

    def salt_cipher(self, kid: str) -> AESGCM:
        text, path, mtime = self._read(f"salts-{kid}.key", "the key that encrypts salts")
        cached = self._cache.get((str(path), mtime))
        if isinstance(cached, AESGCM):
            return cached
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != 32 or _fingerprint(key) != kid:
            raise TransparencyError(f"{path} does not hold salt key {kid}")
        cipher = AESGCM(key)
        self._cache[(str(path), mtime)] = cipher
        return cipher


# ----------------------------------------------------------------------------- signing


def external_signer(name: str) -> Signer | None:
    """The signer `$SOCIALCREDIT_SIGNER` names (module:callable), if any."""
    spec = os.environ.get(SIGNER_ENV)
    if not spec:
        return None
    module, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise TransparencyError(f"{SIGNER_ENV}={spec!r}: cannot load the signer ({exc})"
                                ) from None
    signer: Signer = factory(name)
    return signer


def new_signer(conn: Connection, name: str) -> Signer:
    """A new log's signer: the external one, or a fresh key written to the key directory."""
    ext = external_signer(name)
    if ext is not None:
        return ext
    private = Ed25519PrivateKey.generate()
    KeyStore.for_connection(conn).write_signing_key(name, private)
    return KeySigner(private)


_SELECT_KEY = select(keys.c.name, keys.c.public_key, keys.c.private_key)  # (compiled once)


def log_signer(conn: Connection) -> tuple[str, Signer]:
    """The log's name and the signer for its stored public key."""
    row = conn.execute(_SELECT_KEY).first()
    if row is None:
        raise TransparencyError("the log has no signing key yet", code="log.missing")
    name, public = str(row[0]), bytes(row[1])
    signer = external_signer(name)
    if signer is None and row[2] is not None:
        # a ledger from before 0201 whose key `db upgrade` has not moved out yet
        signer = KeySigner(Ed25519PrivateKey.from_private_bytes(bytes(row[2])))
    if signer is None:
        signer = KeyStore.for_connection(conn).signer(name, public)
    if signer.public_key_bytes() != public:
        raise TransparencyError("the log's signer does not hold the log's public key")
    return name, signer


# ----------------------------------------------------------------------------- salts


_SELECT_SALT_KEY = select(state.c.salt_key_id)  # (compiled once)


def salt_cipher(conn: Connection) -> AESGCM:
    """The cipher for the ledger's salts; the key is created on first use."""
    kid = conn.execute(_SELECT_SALT_KEY).scalar()
    store = KeyStore.for_connection(conn)
    if kid is None:
        fresh = store.create_salt_key()
        conn.execute(update(state).where(state.c.id == 1, state.c.salt_key_id.is_(None))
                     .values(salt_key_id=fresh))
        kid = conn.execute(select(state.c.salt_key_id)).scalar()
        if kid is None:
            raise TransparencyError("no transparency log in this database", code="log.missing")
    return store.salt_cipher(str(kid))


def seal_salt(cipher: AESGCM, subject: str, salt: bytes, nonce: bytes | None = None
              ) -> bytes:
    """The salt encrypted for storage, bound to its subject. `nonce`: 12 random bytes
    the caller drew (one draw for a batch of salts), else drawn here."""
    if nonce is None:
        nonce = os.urandom(12)
    elif len(nonce) != 12:
        raise ValueError("a salt's nonce has 12 bytes")
    aad = _AAD + subject.encode("utf-8", "surrogatepass")
    return bytes([SALT_FORMAT]) + nonce + cipher.encrypt(nonce, salt, aad)


def open_salt(conn: Connection, subject: str, stored: bytes,
              cipher: AESGCM | None = None) -> bytes:
    """A stored salt in clear. A 32-byte value is a salt from before 0201 that `db upgrade`
    has not encrypted yet. `cipher`: the ledger's salt cipher, when the caller opens many
    salts (looked up otherwise)."""
    if len(stored) == 32:
        return stored
    if len(stored) != 61 or stored[0] != SALT_FORMAT:
        raise TransparencyError(f"the stored salt of a subject is malformed ({len(stored)} "
                                "bytes)")
    aad = _AAD + subject.encode("utf-8", "surrogatepass")
    try:
        return (cipher or salt_cipher(conn)).decrypt(stored[1:13], stored[13:], aad)
    except InvalidTag:
        raise TransparencyError("a stored salt does not decrypt with the salt key (the row "
                                "was altered, or belongs to another subject)") from None


# ----------------------------------------------------------------------------- upgrades


def move_secrets_out(conn: Connection) -> dict[str, int]:
    """Move a pre-0201 ledger's private key to the key directory and encrypt its salts,
    in the caller's transaction (`db upgrade`). Idempotent."""
    moved = {"signing_key": 0, "salts": 0}
    row = conn.execute(select(keys.c.name, keys.c.private_key)).first()
    if row is not None and row[1] is not None:
        private = Ed25519PrivateKey.from_private_bytes(bytes(row[1]))
        KeyStore.for_connection(conn).write_signing_key(str(row[0]), private)
        conn.execute(update(keys).where(keys.c.id == 1).values(private_key=None))
        moved["signing_key"] = 1
    plain = [(str(s), bytes(v)) for s, v in conn.execute(
        select(subject_salts.c.subject, subject_salts.c.salt)) if len(bytes(v)) == 32]
    if plain:
        cipher = salt_cipher(conn)
        for subject, salt in plain:
            conn.execute(update(subject_salts).where(subject_salts.c.subject == subject)
                         .values(salt=seal_salt(cipher, subject, salt)))
        moved["salts"] = len(plain)
    return moved


__all__ = ["KEY_DIR_ENV", "SIGNER_ENV", "KeySigner", "KeyStore", "Signer", "default_key_dir",
           "external_signer", "log_signer", "move_secrets_out", "new_signer", "open_salt",
           "salt_cipher", "seal_salt"]
