"""Delivery adapters: e-mail over SMTP and signed webhooks.

A webhook is an HTTP POST of the rendered notice as JSON, with
`X-SocialCredit-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`,
`X-SocialCredit-Timestamp` (Unix seconds) and `Idempotency-Key` (the same on every
retry). The timestamp inside the signed text lets a receiver refuse replays. A 2xx answer
delivers; 408, 429 and 5xx or a network failure are retried with backoff; any other 4xx
fails for good (the receiver refused it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import smtplib
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol
from urllib.parse import urlsplit

from socialcredit.errors import SocialCreditError

SIGNATURE_HEADER = "X-SocialCredit-Signature"
TIMESTAMP_HEADER = "X-SocialCredit-Timestamp"
NOTICE_HEADER = "X-SocialCredit-Notice"


@dataclass(frozen=True)
class Message:
    notice_id: str
    idempotency_key: str
    address: str
    subject_line: str
    text: str
    payload: dict[str, Any]
    secret: str | None = None  # the webhook's signing secret


@dataclass(frozen=True)
class Result:
    ok: bool
    detail: str
    permanent: bool = False


class Adapter(Protocol):
    def send(self, m: Message, now_s: int) -> Result: ...


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver runs (and the tests do)."""
    try:
        want = sign(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(want, signature)


class SmtpAdapter:
    """Plain SMTP (`smtp://host:port`), or STARTTLS first with `smtp+starttls://`; a
    user and password in the URL log in."""

    def __init__(self, url: str, mail_from: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtp+starttls") or not parts.hostname:
            raise SocialCreditError(f"mail server {url!r}: give smtp://host:port",
                                    code="delivery.config")
        self.host = parts.hostname
        self.port = parts.port or 25
        self.starttls = parts.scheme == "smtp+starttls"
        self.user, self.password = parts.username, parts.password
        self.mail_from = mail_from
        self.timeout = timeout

    def send(self, m: Message, now_s: int) -> Result:
        msg = EmailMessage()
        msg["From"] = self.mail_from
        msg["To"] = m.address
        msg["Subject"] = m.subject_line
        msg["Message-ID"] = make_msgid(idstring=m.notice_id[:16])
        msg[NOTICE_HEADER] = m.notice_id
        msg["Idempotency-Key"] = m.idempotency_key
        msg.set_content(m.text)
        msg.add_attachment(body_bytes(m.payload), maintype="application", subtype="json",
                           filename=f"notice-{m.notice_id}.json")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.user:
                    smtp.login(self.user, self.password or "")
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            return Result(False, f"recipient refused: {exc.recipients}", permanent=True)
        except (smtplib.SMTPException, OSError) as exc:
            return Result(False, f"{type(exc).__name__}: {exc}")
        if refused:
            return Result(False, f"recipient refused: {refused}", permanent=True)
        return Result(True, f"accepted by {self.host}:{self.port}")


class WebhookAdapter:
    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout

    def send(self, m: Message, now_s: int) -> Result:
        if urlsplit(m.address).scheme not in ("http", "https"):
            return Result(False, f"not an http(s) URL: {m.address}", permanent=True)
        body = body_bytes(m.payload)
        headers = {"Content-Type": "application/json", "Idempotency-Key": m.idempotency_key,
                   TIMESTAMP_HEADER: str(now_s), NOTICE_HEADER: m.notice_id}
        if m.secret:
            headers[SIGNATURE_HEADER] = sign(m.secret, now_s, body)
        req = urllib.request.Request(m.address, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return Result(True, f"HTTP {resp.status}")
        except urllib.error.HTTPError as exc:
            retry = exc.code in (408, 429) or exc.code >= 500
            return Result(False, f"HTTP {exc.code}", permanent=not retry)
        except (urllib.error.URLError, OSError) as exc:
            return Result(False, f"{type(exc).__name__}: {exc}")


@dataclass(frozen=True)
class DeliveryConfig:
    """Where the outbox sends from. Without a mail server, e-mail deliveries wait (they
    stay pending and the operator sees them)."""

    smtp_url: str | None = None
    mail_from: str = "notices@socialcredit.invalid"
    timeout: float = 10.0

    @classmethod
    def from_env(cls) -> DeliveryConfig:
        return cls(os.environ.get("SOCIALCREDIT_SMTP") or None,
                   os.environ.get("SOCIALCREDIT_MAIL_FROM") or "notices@socialcredit.invalid")

    def adapters(self) -> dict[str, Adapter]:
        out: dict[str, Adapter] = {"webhook": WebhookAdapter(self.timeout)}
        if self.smtp_url:
            out["email"] = SmtpAdapter(self.smtp_url, self.mail_from, self.timeout)
        return out


__all__ = ["NOTICE_HEADER", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "Adapter",
           "DeliveryConfig", "Message", "Result", "SmtpAdapter", "WebhookAdapter",
           "body_bytes", "sign", "verify_signature"]
