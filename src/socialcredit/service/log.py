"""The public transparency log: checkpoints, leaves, proofs, verification, a subject's
own leaves. Plain data out, so the CLI, the API and the pages show the same thing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from socialcredit.service.context import Context
from socialcredit.transparency import merkle
from socialcredit.transparency.checkpoint import Checkpoint, latest_checkpoint, log_verifier
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.events import parse_leaf, reveal_salt, subject_commitment
from socialcredit.transparency.store import TransparencyLog
from socialcredit.transparency.verify import VerifyReport, export_log, verify_log


class Log:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tree = TransparencyLog(ctx.ledger.engine)

    def checkpoint(self) -> Checkpoint:
        with self.ctx.read() as conn:
            cp = latest_checkpoint(conn)
        if cp is None:
            raise TransparencyError("the log has no checkpoint yet")
        return cp

    def signed_size(self, size: int | None = None) -> int:
        """Proofs are for signed heads: default to the latest checkpoint's size."""
        if size is not None:
            return size
        with self.ctx.read() as conn:
            cp = latest_checkpoint(conn)
        return cp.size if cp is not None else self.tree.size()

    def leaves(self, start: int = 0, end: int | None = None) -> list[tuple[int, bytes, bytes]]:
        """(index, data, leaf hash) of leaves [start, end)."""
        size = self.tree.size()
        stop = size if end is None else end
        if not 0 <= start <= stop <= size:
            raise TransparencyError(f"bad range [{start}, {stop}): the log has {size} leaves")
        return list(self.tree.iter_leaves(start, stop))

    def prove(self, index: int, size: int | None = None) -> dict[str, Any]:
        """Inclusion proof of leaf `index` in the tree of `size` (RFC 9162 §2.1.3)."""
        n = self.signed_size(size)
        path = self.tree.inclusion_proof(index, n)
        leaf = self.tree.leaf_hash(index)
        root = self.tree.root(n)
        return {"leaf_index": index, "tree_size": n, "leaf_hash": leaf.hex(),
                "path": [p.hex() for p in path], "root": root.hex(),
                "verified": merkle.verify_inclusion(index, n, leaf, path, root)}

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """Proof that tree `first` is a prefix of tree `second` (RFC 9162 §2.1.4)."""
        path = self.tree.consistency_proof(first, second)
        r1, r2 = self.tree.root(first), self.tree.root(second)
        return {"first": first, "second": second, "path": [p.hex() for p in path],
                "first_root": r1.hex(), "second_root": r2.hex(),
                "verified": merkle.verify_consistency(first, second, r1, r2, path)}

    def verify(self, pubkey: str | None = None) -> VerifyReport:
        return verify_log(self.ctx.ledger.engine, pubkey)

    def export(self, directory: Path) -> dict[str, Any]:
        return export_log(self.ctx.ledger.engine, directory)

    def pubkey(self) -> str:
        with self.ctx.read() as conn:
            return log_verifier(conn).encode()

    def mine(self, subject: str) -> dict[str, Any]:
        """A subject's own leaves: its salt (which only it is given), its commitment, and
        each leaf that names it, with an inclusion proof in the latest signed tree.
        Nobody else can link these leaves to the subject: the commitment is a keyed hash
        of the subject id under a per-subject salt."""
        subject = self.ctx.subject_id(subject)
        with self.ctx.read() as conn:
            salt = reveal_salt(conn, subject)
        if salt is None:
            return {"subject": subject, "commitment": None, "leaves": []}
        commitment = subject_commitment(subject, salt)
        n = self.signed_size()
        found: list[dict[str, Any]] = []
        for index, data, _ in self.tree.iter_leaves(0, n):
            event = parse_leaf(data)
            if event.get("commitment") == commitment:
                found.append({"leaf_index": index, "event": event,
                              "path": [p.hex() for p in self.tree.inclusion_proof(index, n)]})
        return {"subject": subject, "salt": salt.hex(), "commitment": commitment,
                "tree_size": n, "root": self.tree.root(n).hex(), "leaves": found}


def verify_exported(directory: Path, pubkey: str | None = None) -> VerifyReport:
    """Verify an exported log directory: no database, nothing trusted but the files."""
    from socialcredit.transparency.verify import verify_export

    return verify_export(directory, pubkey)


__all__ = ["Log", "verify_exported"]
