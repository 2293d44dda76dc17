"""Principals and bearer tokens: opaque, random, stored hashed, expiring, rotated,
revoked; a malformed or stolen-hash token never authenticates."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from socialcredit.dueprocess import credentials
from socialcredit.dueprocess.schema import principals, tokens
from socialcredit.errors import SocialCreditError
from socialcredit.principals import Principal
from socialcredit.service import Service
from tests.conftest import Clock
from tests.dueprocess.rulebooks import CITY


def test_tokens_are_random_and_only_their_hash_is_stored(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op = make_ledger(CITY, {"court-01": "court"})
    a = op.principals.add("alice", "subject", subject="alice", webhook="http://h.example/x")
    b = op.principals.add("bob", "subject", subject="bob")
    assert a["token"] != b["token"] and a["token"].startswith("sct_")
    with op.ledger.engine.connect() as conn:
        stored = [r.secret_hash for r in conn.execute(select(tokens))]
        secrets_kept = [r.webhook_secret for r in conn.execute(select(principals))]
    assert all(h.startswith("scrypt$") for h in stored)
    assert not any(a["token"] in h or b["token"] in h for h in stored)
    assert a["webhook_secret"] in secrets_kept  # kept: it signs every delivery
    assert op.principals.authenticate(a["token"]) == Principal("alice", "subject", None,
                                                               "alice")
    listed = op.principals.list()
    assert "webhook_secret" not in str(listed) and a["token"] not in str(listed)


def test_expiry_rotation_and_revocation(make_ledger: Callable[..., Service],
                                        clock: Clock) -> None:
    op = make_ledger(CITY, {"court-01": "court"})
    first = op.principals.add("rp", "relying_party", token_days=10)["token"]
    clock.set("2026-01-11T00:00:01Z")
    with pytest.raises(SocialCreditError) as expired:
        op.principals.authenticate(first)
    assert expired.value.code == "forbidden"
    second = op.principals.rotate("rp", grace_days=1)["token"]
    third = op.principals.rotate("rp", grace_days=1)["token"]
    assert op.principals.authenticate(second).id == "rp"  # within its grace day
    clock.set("2026-01-12T00:00:02Z")
    with pytest.raises(SocialCreditError):
        op.principals.authenticate(second)
    assert op.principals.authenticate(third).id == "rp"
    op.principals.revoke("rp")
    with pytest.raises(SocialCreditError):
        op.principals.authenticate(third)
    with pytest.raises(SocialCreditError):
        op.acting_as("rp")  # --as a revoked principal is refused too


@pytest.mark.parametrize(("args", "code"), [
    (("x", "subject"), "principal.invalid"),  # a subject principal names its subject
    (("x", "auditor", {"subject": "s"}), "principal.invalid"),
    (("x", "provider"), "principal.invalid"),  # ... and a provider principal its provider
    (("x", "provider", {"provider": "nobody"}), "not_found"),
    (("x", "king"), "principal.invalid"),
    (("bad id!", "auditor"), "principal.invalid"),
])
def test_bad_registrations_are_refused(make_ledger: Callable[..., Service],
                                       args: tuple[object, ...], code: str) -> None:
    op = make_ledger(CITY, {"court-01": "court"})
    kw = args[2] if len(args) > 2 else {}
    with pytest.raises(SocialCreditError) as caught:
        op.principals.add(str(args[0]), str(args[1]), **kw)  # type: ignore[arg-type]
    assert caught.value.code == code


def test_a_principal_is_registered_once(make_ledger: Callable[..., Service]) -> None:
    op = make_ledger(CITY, {"court-01": "court"})
    op.principals.add("aud", "auditor")
    with pytest.raises(SocialCreditError) as caught:
        op.principals.add("aud", "auditor")
    assert caught.value.code == "principal.exists"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_untrusted_token_text_is_refused_without_a_crash(text: str) -> None:
    token_id = credentials.token_id_of(text)
    if token_id is not None:  # only the exact shape has an id
        assert text.strip().startswith(f"sct_{token_id}_")
    assert credentials.verify_secret(text, "scrypt$16$1$1$AAAA$AAAA") in (True, False)
    assert credentials.verify_secret(text, text) is False


def test_a_hash_checks_its_secret_only() -> None:
    _, token = credentials.new_token()
    h = credentials.hash_secret(token, n=2**10)
    assert credentials.verify_secret(token, h)
    assert not credentials.verify_secret(token[:-1] + ("A" if token[-1] != "A" else "B"), h)
    assert credentials.hash_secret(token, n=2**10) != h  # salted
