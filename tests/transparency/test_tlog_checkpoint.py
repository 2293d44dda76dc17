"""Signed notes and checkpoints: the Go sumdb/note vector, keys, tampering."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import Engine

from socialcredit.transparency import merkle
from socialcredit.transparency.checkpoint import (
    NoteError,
    Verifier,
    checkpoint,
    checkpoint_text,
    create_key,
    latest_checkpoint,
    list_checkpoints,
    log_verifier,
    open_note,
    parse_checkpoint_text,
    parse_signer_key,
    sign_note,
    verify_checkpoint_note,
)
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.store import TransparencyLog

# golang.org/x/mod/sumdb/note's documented example (Ed25519 is deterministic, so our
# signature must come out byte for byte the same).
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_go_vector_sign_and_open() -> None:
    name, private = parse_signer_key(GO_SKEY)
    assert sign_note(GO_TEXT, name, private) == GO_NOTE
    v = Verifier.parse(GO_VKEY)
    assert v.encode() == GO_VKEY
    assert open_note(GO_NOTE, v) == GO_TEXT
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), v)


def test_verifier_key_mangling_is_refused() -> None:
    for bad in [
        GO_VKEY.replace("c74f20a3", "c74f20a4"),  # wrong key id
        GO_VKEY.replace("+ARpc", "+AhpC"),  # wrong algorithm byte / key
        "PeterNeumann+c74f20a3",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]:
        with pytest.raises(NoteError):
            Verifier.parse(bad)


def test_other_signatures_are_ignored_but_ours_must_verify() -> None:
    v = Verifier.parse(GO_VKEY)
    witness = "— witness.example " + base64.b64encode(b"\0" * 68).decode() + "\n"
    assert open_note(GO_NOTE + witness, v) == GO_TEXT
    other = Verifier.from_public_key("witness.example", b"\x02" * 32)
    with pytest.raises(NoteError, match="no signature"):
        open_note(GO_NOTE, other)
    blob = bytearray(base64.b64decode(GO_NOTE.rsplit(" ", 1)[1]))
    blob[10] ^= 1
    forged = GO_NOTE.rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(blob)).decode() + "\n"
    with pytest.raises(NoteError, match="does not verify"):
        open_note(forged, v)


def test_checkpoint_body_format() -> None:
    root = merkle.EMPTY_ROOT
    text = checkpoint_text("credit.example/log", 0, root)
    assert text == "credit.example/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert parse_checkpoint_text(text) == ("credit.example/log", 0, root)
    assert parse_checkpoint_text(text + "extension line\n")[1] == 0
    for bad in ["o\n01\n" + text.split("\n")[2] + "\n", "o\n1\nnot base64\n", "o\n1\n"]:
        with pytest.raises(NoteError):
            parse_checkpoint_text(bad)


def test_create_key_and_checkpoints(engine: Engine) -> None:
    with engine.begin() as conn:
        vkey = create_key(conn, "credit.example/log")
    with engine.begin() as conn:
        assert create_key(conn, "credit.example/log") == vkey  # idempotent
        with pytest.raises(TransparencyError):
            create_key(conn, "other.example/log")
    v = Verifier.parse(vkey)
    log = TransparencyLog(engine)
    with engine.begin() as conn:
        cp0 = checkpoint(conn)
    assert (cp0.id, cp0.size, cp0.root) == (1, 0, merkle.EMPTY_ROOT)
    with engine.begin() as conn:
        log.append(conn, [b"a", b"b", b"c"])
        cp1 = checkpoint(conn)
        assert checkpoint(conn) == cp1  # nothing new: no new checkpoint
    assert (cp1.id, cp1.size) == (2, 3)
    assert verify_checkpoint_note(cp1.note, v) == ("credit.example/log", 3, log.root(3))
    with engine.connect() as conn:
        assert latest_checkpoint(conn) == cp1
        assert [c.id for c in list_checkpoints(conn)] == [1, 2]
        assert log_verifier(conn) == v
    with pytest.raises(NoteError):
        verify_checkpoint_note(cp1.note.replace("\n3\n", "\n4\n"), v)


def test_checkpoint_rolls_back_with_the_transaction(engine: Engine) -> None:
    with engine.begin() as conn:
        create_key(conn, "credit.example/log")
    log = TransparencyLog(engine)

    class Boom(Exception):
        pass

    with pytest.raises(Boom), engine.begin() as conn:
        log.append(conn, [b"x"])
        checkpoint(conn)
        raise Boom
    assert log.size() == 0
    with engine.connect() as conn:
        assert latest_checkpoint(conn) is None
