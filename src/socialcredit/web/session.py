"""Signed-in sessions and CSRF tokens, without server-side state.

Signing in checks a principal's bearer token once (the API's token cache, scrypt behind
it); the browser then holds a session cookie naming the principal and an expiry, signed
with HMAC-SHA256 under the server's secret. The cookie is HttpOnly and SameSite=Strict.
It also names the public id of the token used to sign in (never its secret), and every
request re-reads the principal and that token from the store: a revoked principal, a
revoked or expired token, or a token retired by a rotation (after its grace) signs the
session out at its next click.

CSRF: every visitor gets a random `sc_csrf` cookie; each form carries HMAC(secret,
cookie) and a POST without the matching value is refused. A page on another site can
neither read the cookie nor compute the value (and SameSite=Strict keeps the cookies off
its requests in the first place).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "sc_session"
CSRF_COOKIE = "sc_csrf"
LANG_COOKIE = "sc_lang"
#: How long a session lasts (seconds) before signing in again.
SESSION_TTL = 8 * 3600
SECRET_ENV = "SOCIALCREDIT_WEB_SECRET"


def secret_from_environment() -> bytes:
    """$SOCIALCREDIT_WEB_SECRET (shared by every worker process), else a random secret
    for this process (sessions then end when it restarts)."""
    value = os.environ.get(SECRET_ENV)
    if value:
        return hashlib.sha256(value.encode()).digest()
    return secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    principal: str
    token_id: str
    expires: float


class Signer:
    def __init__(self, secret: bytes, ttl: float = SESSION_TTL) -> None:
        self.secret = secret
        self.ttl = ttl

    def _mac(self, purpose: str, data: bytes) -> bytes:
        return hmac.new(self.secret, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()

    def session(self, principal: str, token_id: str) -> str:
        """A cookie value for a new session of `principal`, signed in with the token whose
        public id is `token_id`."""
        body = json.dumps({"p": principal, "t": token_id, "e": int(time.time() + self.ttl),
                           "n": secrets.token_hex(8)}, separators=(",", ":")).encode()
        return _b64(body) + "." + _b64(self._mac("session", body))

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, if its signature is ours and it has not expired."""
        if not cookie or "." not in cookie or len(cookie) > 1024:
            return None
        body_b64, _, mac_b64 = cookie.partition(".")
        try:
            body, mac = _unb64(body_b64), _unb64(mac_b64)
            if not hmac.compare_digest(mac, self._mac("session", body)):
                return None
            data = json.loads(body)
            principal, token_id, expires = str(data["p"]), str(data["t"]), float(data["e"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires < time.time():
            return None
        return Session(principal, token_id, expires)

    def csrf(self, seed: str) -> str:
        """The form token for a visitor's CSRF cookie."""
        return _b64(self._mac("csrf", seed.encode()))

    def csrf_ok(self, seed: str | None, token: str | None) -> bool:
        if not seed or not token:
            return False
        return hmac.compare_digest(self.csrf(seed), token)


def new_seed() -> str:
    return secrets.token_urlsafe(24)


__all__ = ["CSRF_COOKIE", "LANG_COOKIE", "SECRET_ENV", "SESSION_COOKIE", "SESSION_TTL",
           "Session", "Signer", "new_seed", "secret_from_environment"]
