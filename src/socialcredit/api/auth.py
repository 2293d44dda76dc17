"""Who is asking: a bearer token resolved to one principal, and how often it may ask.

Tokens are stored hashed with scrypt (the rights domain), which costs about 0.1 s a
check by design; a server answering thousands of requests a second cannot pay that per
request. Verified tokens are kept in memory, keyed by the SHA-256 of the token (the
token itself is never kept), for at most `ttl` seconds and never past the token's own
expiry, so a revoked or rotated token stops working within `ttl` on every worker.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

from socialcredit.errors import SocialCreditError
from socialcredit.principals import Principal
from socialcredit.service import Service

#: How long a verified token is trusted without asking the database again (seconds).
CACHE_TTL = 30.0
CACHE_SIZE = 10_000


class Unauthenticated(SocialCreditError):
    code = "unauthenticated"


@dataclass
class TokenCache:
    ttl: float = CACHE_TTL
    size: int = CACHE_SIZE
    _hits: dict[bytes, tuple[Principal, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def principal(self, svc: Service, header: str | None) -> Principal:
        """The principal an `Authorization: Bearer …` header names."""
        key, token = self._key(header)
        now = time.monotonic()
        hit = self._hit(key, now)
        if hit is not None:
            return hit
        try:
            principal, expires_us = svc.principals.verify(token)
        except SocialCreditError as e:
            raise Unauthenticated(str(e)) from None
        until = now + self.ttl
        if expires_us is not None:
            until = min(until, now + max(0.0, (expires_us - svc.now()) / 1e6))
        with self._lock:
            if len(self._hits) >= self.size:
                self._hits.clear()  # bounded: a flood of tokens cannot grow it
            self._hits[key] = (principal, until)
        return principal

    def cached(self, header: str | None) -> Principal | None:
        """The principal of a token verified within `ttl`, or None (then `principal`
        checks it, slowly): what an event loop may ask without blocking."""
        return self._hit(self._key(header)[0], time.monotonic())

    def _key(self, header: str | None) -> tuple[bytes, str]:
        if header is None or not header.strip():
            raise Unauthenticated("this needs a bearer token (Authorization: Bearer …)")
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 512:
            raise Unauthenticated("the Authorization header must be `Bearer <token>`")
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest(), token

    def _hit(self, key: bytes, now: float) -> Principal | None:
        with self._lock:
            hit = self._hits.get(key)
        return hit[0] if hit is not None and hit[1] > now else None

    def forget(self) -> None:
        with self._lock:
            self._hits.clear()


@dataclass
class RateLimiter:
    """A token bucket per principal, in this process: `rate` requests a second on
    average, bursts up to `burst`. Public requests share one bucket per client address."""

    rate: float = 200.0
    burst: float = 400.0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, who: str) -> None:
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(who, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[who] = (tokens, now)
                raise SocialCreditError(f"too many requests from {who!r}: slow down and "
                                        "retry", code="rate_limited")
            if len(self._buckets) > 100_000:
                self._buckets.clear()
            self._buckets[who] = (tokens - 1.0, now)
