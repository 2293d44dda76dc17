"""Credentials: opaque random bearer tokens, stored as scrypt hashes.

A token reads `sct_<id>_<secret>`: the id (16 hex digits) is public and finds the row;
the whole token is hashed with scrypt (RFC 7914, hashlib's, from OpenSSL) under a random
salt, so a copy of the database yields no usable token. The parameters travel with each
hash, so they can be raised later without invalidating old hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets

PREFIX = "sct"
# n = 2**14, r = 8: about 16 MiB and tens of milliseconds per check (the usual interactive
# setting); a token carries 256 random bits, so the cost only guards stolen hashes.
N, R, P = 2**14, 8, 1
_TOKEN = re.compile(rf"^{PREFIX}_([0-9a-f]{{16}})_([A-Za-z0-9_-]{{43}})$")


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def hash_secret(secret: str, *, n: int = N, r: int = R, p: int = P) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                            maxmem=256 * n * r + 1024 * 1024)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of `secret` against a stored hash; False for anything malformed."""
    try:
        scheme, n_, r_, p_, salt, want = stored.split("$")
        n, r, p = int(n_), int(r_), int(p_)
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(secret.encode("utf-8"), salt=_unb64(salt), n=n, r=r, p=p, dklen=32,
                         maxmem=256 * n * r + 1024 * 1024)
    return hmac.compare_digest(got, _unb64(want))


def new_token() -> tuple[str, str]:
    """(token id, token): shown once, never stored in clear."""
    token_id = secrets.token_hex(8)
    return token_id, f"{PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"


def token_id_of(token: str) -> str | None:
    """The public id of a well-formed token, else None."""
    m = _TOKEN.match(token.strip())
    return m.group(1) if m else None


__all__ = ["hash_secret", "new_token", "token_id_of", "verify_secret"]
