"""The public transparency log: checkpoints, leaves, proofs, verification, a subject's
own leaves. Plain data out, so the CLI, the API and the pages show the same thing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from socialcredit.service.context import Context
from socialcredit.transparency import merkle
from socialcredit.transparency.checkpoint import Checkpoint, latest_checkpoint, log_verifier
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.events import parse_leaf, reveal_salt, subject_commitment
from socialcredit.transparency.store import TransparencyLog
from socialcredit.transparency.tiles import Tile, entry_bundle, parse_tile_path, tile_hashes
from socialcredit.transparency.verify import VerifyReport, export_log, verify_log

if TYPE_CHECKING:
    from socialcredit.service.audit import LedgerReport


def proof_of(ctx: Context, conn: Connection, index: int) -> dict[str, Any] | None:
    """An inclusion proof of leaf `index` in the latest signed checkpoint, with that
    checkpoint's signed note, so that it can be checked with nothing but the log's public
    key; None when the leaf is not yet under a signed checkpoint."""
    cp = latest_checkpoint(conn)
    if cp is None or index >= cp.size:
        return None
    tree = TransparencyLog(conn)
    path = tree.inclusion_proof(index, cp.size, conn=conn)
    leaf = tree.leaf_hash(index, conn=conn)
    root = tree.root(cp.size, conn=conn)
    data = next(iter(tree.iter_leaves(index, index + 1, conn=conn)))[1]
    return {"leaf_index": index, "tree_size": cp.size, "leaf": data.decode("utf-8"),
            "leaf_hash": leaf.hex(), "path": [h.hex() for h in path], "root": root.hex(),
            "checkpoint": cp.note,
            "verified": merkle.verify_inclusion(index, cp.size, leaf, path, root)
            and root == cp.root}


class Log:
    """Public reads of the log (anyone may make them) and a subject's own leaves."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tree = TransparencyLog(ctx.ledger.engine)

    def checkpoint(self) -> Checkpoint:
        self.ctx.allow("log.read")
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
        self.ctx.allow("log.read")
        size = self.tree.size()
        stop = size if end is None else end
        if not 0 <= start <= stop <= size:
            raise TransparencyError(f"bad range [{start}, {stop}): the log has {size} leaves")
        return list(self.tree.iter_leaves(start, stop))

    def prove(self, index: int, size: int | None = None) -> dict[str, Any]:
        """Inclusion proof of leaf `index` in the tree of `size` (RFC 9162 §2.1.3)."""
        self.ctx.allow("log.read")
        n = self.signed_size(size)
        path = self.tree.inclusion_proof(index, n)
        leaf = self.tree.leaf_hash(index)
        root = self.tree.root(n)
        return {"leaf_index": index, "tree_size": n, "leaf_hash": leaf.hex(),
                "path": [p.hex() for p in path], "root": root.hex(),
                "verified": merkle.verify_inclusion(index, n, leaf, path, root)}

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """Proof that tree `first` is a prefix of tree `second` (RFC 9162 §2.1.4)."""
        self.ctx.allow("log.read")
        path = self.tree.consistency_proof(first, second)
        r1, r2 = self.tree.root(first), self.tree.root(second)
        return {"first": first, "second": second, "path": [p.hex() for p in path],
                "first_root": r1.hex(), "second_root": r2.hex(),
                "verified": merkle.verify_consistency(first, second, r1, r2, path)}

    def verify(self, pubkey: str | None = None) -> VerifyReport:
        self.ctx.allow("log.read")
        return verify_log(self.ctx.ledger.engine, pubkey)

    def verify_ledger(self, pubkey: str | None = None) -> LedgerReport:
        """The log, then every record, batch, rulebook, decision and provider row against
        it (`socialcredit verify`)."""
        from socialcredit.service.audit import verify_ledger

        return verify_ledger(self.ctx.ledger, pubkey)

    def export(self, directory: Path) -> dict[str, Any]:
        self.ctx.allow("log.read")
        return export_log(self.ctx.ledger.engine, directory)

    def tile(self, path: str) -> tuple[Tile, bytes]:
        """A C2SP tlog-tiles resource by its path (`tile/<L>/<N>[.p/<W>]` or
        `tile/entries/<N>[.p/<W>]`): the tile and its bytes. Tiles exist as soon as the
        leaves they cover do; clients pick the widths the signed checkpoint implies."""
        self.ctx.allow("log.read")
        tile = parse_tile_path(path)
        with self.ctx.read() as conn:
            if tile.level is None:
                return tile, entry_bundle(self.tree, tile, conn=conn)
            return tile, tile_hashes(self.tree, tile, conn=conn)

    def pubkey(self) -> str:
        self.ctx.allow("log.read")
        with self.ctx.read() as conn:
            return log_verifier(conn).encode()

    def mine(self, subject: str) -> dict[str, Any]:
        """A subject's own leaves: its salt (which only it is given), its commitment, and
        each leaf that names it, with an inclusion proof in the latest signed tree.
        Nobody else can link these leaves to the subject: the commitment is a keyed hash
        of the subject id under a per-subject salt. So only the subject (or the operator
        acting for it) may ask."""
        subject = self.ctx.subject_id(subject)
        self.ctx.allow("log.mine", subject)
        return mine(self.ctx, subject)


def mine(ctx: Context, subject: str) -> dict[str, Any]:
    """`Log.mine` for other service operations (the subject's file): no authorization."""
    tree = TransparencyLog(ctx.ledger.engine)
    with ctx.read() as conn:
        salt = reveal_salt(conn, subject)
        cp = latest_checkpoint(conn)
    if salt is None:
        return {"subject": subject, "commitment": None, "leaves": []}
    commitment = subject_commitment(subject, salt)
    n = cp.size if cp is not None else tree.size()
    found: list[dict[str, Any]] = []
    for index, data, _ in tree.iter_leaves(0, n):
        event = parse_leaf(data)
        if event.get("commitment") == commitment:
            found.append({"leaf_index": index, "event": event,
                          "path": [p.hex() for p in tree.inclusion_proof(index, n)]})
    return {"subject": subject, "salt": salt.hex(), "commitment": commitment,
            "tree_size": n, "root": tree.root(n).hex(), "leaves": found}


def verify_exported(directory: Path, pubkey: str | None = None) -> VerifyReport:
    """Verify an exported log directory: no database, nothing trusted but the files."""
    from socialcredit.transparency.verify import verify_export

    return verify_export(directory, pubkey)


__all__ = ["Log", "mine", "proof_of", "verify_exported"]
