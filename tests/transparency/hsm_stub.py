"""A stand-in for an HSM behind `SOCIALCREDIT_SIGNER`: the key never leaves this module."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_KEYS: dict[str, Ed25519PrivateKey] = {}
SIGNED: list[bytes] = []


class HsmSigner:
    def __init__(self, name: str) -> None:
        self._key = _KEYS.setdefault(name, Ed25519PrivateKey.generate())

    def public_key_bytes(self) -> bytes:
        return self._key.public_key().public_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        SIGNED.append(message)
        return self._key.sign(message)


def signer(name: str) -> HsmSigner:
    return HsmSigner(name)
