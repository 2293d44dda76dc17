"""Recompute everything and say exactly what is wrong.

`verify_log` trusts nothing it reads from the database: every leaf hash is
recomputed from the leaf's data, every stored subtree hash from its two stored
children, every checkpoint's signature is checked, its root recomputed from the
leaves, and consecutive checkpoints are checked for consistency (RFC 9162 §2.1.4).
It streams: leaves and subtrees are read in their primary-key order and replayed as
the appends made them, so memory stays O(log n) and a 10-million-leaf log verifies
in one pass.

Problems name the thing that is wrong: `leaf 41`, `subtree (level 3, index 5)`,
`checkpoint #12`. Where a rewrite was done carefully (data, leaf hash and every
subtree recomputed), only the signed checkpoints still disagree; the report then
gives the leaf range between the last checkpoint that still matches and the first
that does not.

`export_log` writes what a monitor needs as plain files; `verify_export` checks such
a directory with no database and no code from this package but the Merkle module.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, LargeBinary, cast, func, inspect, literal, select

from socialcredit.errors import redact_url
from socialcredit.timeutil import format_instant, now_us
from socialcredit.transparency import merkle
from socialcredit.transparency.checkpoint import (
    Checkpoint,
    NoteError,
    Verifier,
    list_checkpoints,
    verify_checkpoint_note,
)
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.schema import keys, leaves, node_pos, nodes, state
from socialcredit.transparency.store import TransparencyLog

EXPORT_FORMAT = "socialcredit-tlog-export/1"
_PLACEHOLDER = b"\xff" * 32  # stands for a missing leaf so the replay can go on


@dataclass(frozen=True)
class Problem:
    """One thing that is wrong. `what` is leaf | subtree | checkpoint | leaves | log | key."""

    what: str
    ref: int | str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "ref": self.ref, "message": self.message}


@dataclass
class VerifyReport:
    """What was checked and what failed. `ok` means nothing failed."""

    source: str
    size: int = 0
    leaves_checked: int = 0
    subtrees_checked: int = 0
    checkpoints_checked: int = 0
    key: str | None = None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad_leaves(self) -> list[int]:
        return sorted({p.ref for p in self.problems if p.what == "leaf" and isinstance(p.ref, int)})

    def bad_checkpoints(self) -> list[int]:
        return sorted(
            {p.ref for p in self.problems if p.what == "checkpoint" and isinstance(p.ref, int)}
        )

    def add(self, what: str, ref: int | str | None, message: str) -> None:
        self.problems.append(Problem(what, ref, message))

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "size": self.size,
            "leaves_checked": self.leaves_checked,
            "subtrees_checked": self.subtrees_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "key": self.key,
            "problems": [p.to_json() for p in self.problems],
            "notes": self.notes,
        }


# --------------------------------------------------------------------------- keys


def resolve_verifier(
    pubkey: bytes | str | Verifier | None, stored: Verifier | None, report: VerifyReport
) -> Verifier | None:
    """The key to check signatures with.

    `pubkey` is the verifier key text a monitor pinned (`name+keyid+base64`, as str
    or bytes) or a raw 32-byte Ed25519 key. Without one, the log's own stored key
    is used, and the report says that this proves integrity only against someone
    who could not also replace the key.
    """
    trusted: Verifier | None
    if pubkey is None:
        trusted = None
    elif isinstance(pubkey, Verifier):
        trusted = pubkey
    elif isinstance(pubkey, bytes) and len(pubkey) == 32 and b"+" not in pubkey:
        if stored is None:
            raise TransparencyError(
                "a raw public key needs the log's key name; give the verifier key"
            )
        trusted = Verifier.from_public_key(stored.name, pubkey)
    else:
        text = pubkey.decode("utf-8") if isinstance(pubkey, bytes) else pubkey
        trusted = Verifier.parse(text)
    if trusted is None:
        if stored is None:
            report.add("key", None, "the log has no public key, so no checkpoint can be checked")
            return None
        report.notes.append(
            "signatures were checked against the key stored with the log itself; "
            "pass the published verifier key (--pubkey) for an independent check"
        )
        report.key = stored.encode()
        return stored
    report.key = trusted.encode()
    if stored is not None and stored != trusted:
        report.add(
            "key",
            stored.name,
            f"the key stored with the log ({stored.encode()}) is not the trusted key "
            f"({trusted.encode()})",
        )
    return trusted


# --------------------------------------------------------------------------- replay


class _Replay:
    """Replays appends leaf by leaf: checks leaves, stored subtrees, collects roots."""

    def __init__(
        self,
        report: VerifyReport,
        root_sizes: set[int],
        subtrees: Iterator[tuple[int, int, int, bytes]] | None,
    ) -> None:
        self.report = report
        self.want = root_sizes
        self.roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT} if 0 in root_sizes else {}
        self.truth = merkle.CompactRange()  # from the data: the roots checkpoints must match
        self.stack: list[tuple[bytes, bool]] = []  # stored hashes, tainted by missing leaves
        self.subtrees = subtrees
        self.pending: tuple[int, int, int, bytes] | None = None
        self.level1: list[tuple[int, bytes, bytes, bytes]] = []  # suspicious level-1 nodes
        self.damaged_below: int | None = None  # smallest leaf index found damaged

    def _damage(self, index: int) -> None:
        if self.damaged_below is None or index < self.damaged_below:
            self.damaged_below = index

    def leaf(self, index: int, data: bytes | None, stored_hash: bytes | None) -> None:
        """Feed leaf `index` (None: missing). Leaves must come in index order."""
        if data is None:
            self.report.add("leaf", index, f"leaf {index} is missing")
            self._damage(index)
            self.truth.append(_PLACEHOLDER)
            self.stack.append((_PLACEHOLDER, True))
        elif stored_hash is None:  # unreadable hash (already reported): judge by the data
            self._damage(index)
            self.truth.append(merkle.leaf_hash(data))
            self.stack.append((_PLACEHOLDER, True))
            self.report.leaves_checked += 1
        else:
            h = merkle.leaf_hash(data)
            if h != stored_hash:
                self.report.add(
                    "leaf",
                    index,
                    f"leaf {index}: its data does not hash to its stored leaf hash "
                    "(the data was altered)",
                )
                self._damage(index)
            self.truth.append(h)
            self.stack.append((stored_hash, False))
            self.report.leaves_checked += 1
        if self.subtrees is not None:
            self._subtrees_completed_by(index)
        if self.truth.size in self.want:
            self.roots[self.truth.size] = self.truth.root()

    def _subtrees_completed_by(self, j: int) -> None:
        level, k = 0, j + 1
        while not k & 1:
            level += 1
            k >>= 1
            idx = ((j + 1) >> level) - 1
            right, rt = self.stack.pop()
            left, lt = self.stack.pop()
            expected = merkle.node_hash(left, right)
            stored = self._stored(level, idx)
            if stored is None:
                self.report.add(
                    "subtree",
                    f"{level}/{idx}",
                    f"subtree (level {level}, index {idx}) is missing from tlog_nodes",
                )
                self.stack.append((expected, lt or rt))
                continue
            self.report.subtrees_checked += 1
            if stored != expected and not (lt or rt):
                if level == 1:
                    self.level1.append((idx, left, right, stored))
                else:
                    first, last = idx << level, ((idx + 1) << level) - 1
                    self.report.add(
                        "subtree",
                        f"{level}/{idx}",
                        f"subtree (level {level}, index {idx}) over leaves {first}..{last} "
                        "does not match its two children",
                    )
                    self._damage(first)
            self.stack.append((stored, lt or rt))

    def _stored(self, level: int, idx: int) -> bytes | None:
        assert self.subtrees is not None
        want = node_pos(level, idx)
        while True:
            if self.pending is None:
                self.pending = next(self.subtrees, None)
                if self.pending is None:
                    return None
            pos, lvl, i, h = self.pending
            if pos > want:
                return None
            self.pending = None
            if pos == want:
                if (lvl, i) != (level, idx):
                    self.report.add(
                        "subtree",
                        f"{level}/{idx}",
                        f"tlog_nodes row at pos {pos} says (level {lvl}, index {i}), "
                        f"expected (level {level}, index {idx})",
                    )
                return h
            self.report.add(
                "subtree", f"{lvl}/{i}", f"tlog_nodes has an unexpected row at pos {pos}"
            )

    def finish(self) -> None:
        """Report leftover subtree rows and pin down leaves behind level-1 mismatches."""
        if self.subtrees is not None:
            rest = [self.pending] if self.pending else []
            rest.extend(self.subtrees)
            for pos, lvl, i, _ in rest[:10]:
                self.report.add(
                    "subtree",
                    f"{lvl}/{i}",
                    f"tlog_nodes row at pos {pos} (level {lvl}, index {i}) lies beyond the log",
                )
        self._explain_level1()

    def _explain_level1(self) -> None:
        """Leaf hash and data were both rewritten: find which child of each bad pair.

        A level-1 subtree fixes the hash of its two leaves at append time. If
        putting some other leaf's hash (one from another bad pair) in place of one
        child restores the stored parent, that child is the altered leaf and we
        know where its original went (a reorder). Otherwise both are suspects.
        """
        pool: dict[bytes, int] = {}
        for idx, left, right, _ in self.level1[:1000]:
            pool.setdefault(left, 2 * idx)
            pool.setdefault(right, 2 * idx + 1)
        for idx, left, right, stored in self.level1:
            a, b = 2 * idx, 2 * idx + 1
            named = False
            for h, k in pool.items():
                if merkle.node_hash(h, right) == stored and k != a:
                    self._damage(a)
                    self.report.add(
                        "leaf",
                        a,
                        f"leaf {a} was replaced: the tree recorded here the leaf now at index {k} "
                        "(leaves reordered)",
                    )
                    named = True
                    break
                if merkle.node_hash(left, h) == stored and k != b:
                    self._damage(b)
                    self.report.add(
                        "leaf",
                        b,
                        f"leaf {b} was replaced: the tree recorded here the leaf now at index {k} "
                        "(leaves reordered)",
                    )
                    named = True
                    break
            if not named:
                self._damage(a)
                self.report.add(
                    "leaf",
                    a,
                    f"leaf {a} or leaf {b} was rewritten (data and leaf hash): "
                    f"subtree (level 1, index {idx}) no longer matches them",
                )


def _check_checkpoints(
    report: VerifyReport,
    cps: list[Checkpoint],
    verifier: Verifier | None,
    roots: dict[int, bytes],
    log_size: int,
    expected_count: int | None,
    damaged_below: int | None,
    log: TransparencyLog | None,
) -> None:
    """Signatures, notes vs columns, ordering, roots vs leaves, consistency."""
    good: list[tuple[Checkpoint, int, bytes]] = []  # (checkpoint, signed size, signed root)
    prev: Checkpoint | None = None
    for cp in cps:
        report.checkpoints_checked += 1
        expected_id = 1 if prev is None else prev.id + 1
        if cp.id != expected_id:
            missing = ", ".join(f"#{i}" for i in range(expected_id, min(cp.id, expected_id + 5)))
            report.add(
                "checkpoint", expected_id, f"checkpoint {missing} missing (ids jump to #{cp.id})"
            )
        if prev is not None:
            if cp.size < prev.size:
                report.add(
                    "checkpoint",
                    cp.id,
                    f"checkpoint #{cp.id} (size {cp.size}) is smaller than checkpoint "
                    f"#{prev.id} (size {prev.size}): checkpoints reordered or the log rolled back",
                )
            if cp.created_at < prev.created_at:
                report.add(
                    "checkpoint",
                    cp.id,
                    f"checkpoint #{cp.id} was created before checkpoint #{prev.id}",
                )
        prev = cp
        if verifier is None:
            continue
        try:
            _, size, root = verify_checkpoint_note(cp.note, verifier)
        except NoteError as exc:
            report.add("checkpoint", cp.id, f"checkpoint #{cp.id}: {exc}")
            continue
        if size != cp.size or root != cp.root:
            report.add(
                "checkpoint",
                cp.id,
                f"checkpoint #{cp.id}: stored size/root ({cp.size}, {cp.root.hex()[:16]}…) "
                f"differ from its signed note ({size}, {root.hex()[:16]}…)",
            )
        if size > log_size:
            report.add(
                "checkpoint",
                cp.id,
                f"checkpoint #{cp.id} signs size {size} but the log has {log_size} leaves: "
                "leaves were removed from the end",
            )
            continue
        good.append((cp, size, root))
    if expected_count is not None and prev is not None and prev.id < expected_count:
        report.add(
            "checkpoint",
            prev.id + 1,
            f"checkpoint #{prev.id + 1} missing (the log recorded {expected_count} checkpoints)",
        )
    elif expected_count is not None and prev is None and expected_count > 0:
        report.add("checkpoint", 1, f"all {expected_count} checkpoints are missing")

    # Roots: the first signed root the leaves no longer give bounds the rewrite.
    bad = [(cp, size) for cp, size, root in good if roots.get(size) != root]
    if bad:
        cp, size = bad[0]
        ok_sizes = [sz for _, sz, root in good if roots.get(sz) == root and sz < size]
        lo = max(ok_sizes, default=0)
        local = f"; see leaf {damaged_below}" if damaged_below is not None else ""
        more = f" (and {len(bad) - 1} later checkpoints)" if len(bad) > 1 else ""
        report.add(
            "leaves",
            cp.id,
            f"the leaves now stored do not give the root signed in checkpoint #{cp.id} "
            f"(size {size}){more}: leaves {lo}..{size - 1} were altered after it was "
            f"signed{local}",
        )

    # Consistency of consecutive signed heads, from the (now verified) store.
    if log is None or damaged_below is not None or bad:
        return
    for (a, sa, ra), (b, sb, rb) in itertools.pairwise(good):
        if sb < sa:
            continue  # already reported as out of order
        try:
            proof = log.consistency_proof(sa, sb)
        except TransparencyError as exc:
            report.add("checkpoint", b.id, f"no consistency proof #{a.id} → #{b.id}: {exc}")
            continue
        if not merkle.verify_consistency(sa, sb, ra, rb, proof):
            report.add(
                "checkpoint",
                b.id,
                f"checkpoint #{b.id} (size {sb}) is not consistent with checkpoint "
                f"#{a.id} (size {sa})",
            )


# --------------------------------------------------------------------------- database


def _blob(value: object) -> bytes | None:
    """A binary column's value, or None when the row holds something else.

    SQLite stores whatever a statement gives it: a row written with SQL outside the log
    may hold TEXT (or a number) where the log writes bytes. Such a row is damage to
    name, not a reason for the verifier to crash.
    """
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return None


def _stream(
    conn: Connection, report: VerifyReport, chunk: int = 20_000
) -> Iterator[tuple[int, bytes | None, bytes | None]]:
    """(index, data, leaf hash) in index order; a column that does not hold bytes is
    reported on the leaf and given as its UTF-8 bytes (data) or as missing (hash)."""
    pos = -1
    c = leaves.c
    if conn.dialect.name == "sqlite":
        # read every value as its bytes, with its storage class beside it: TEXT that is
        # not UTF-8 would otherwise fail in the driver
        cols = [c.idx, cast(c.data, LargeBinary), cast(c.leaf_hash, LargeBinary),
                func.typeof(c.data), func.typeof(c.leaf_hash)]
    else:
        cols = [c.idx, c.data, c.leaf_hash, literal("blob"), literal("blob")]
    while True:
        rows = conn.execute(
            select(*cols).where(c.idx > pos).order_by(c.idx).limit(chunk)
        ).all()
        if not rows:
            return
        for r in rows:
            idx, data, h = int(r[0]), _blob(r[1]), _blob(r[2])
            if data is None or r[3] != "blob":
                report.add(
                    "leaf",
                    idx,
                    f"leaf {idx}: its data column holds {r[3]}, not bytes "
                    "(the row was written outside the log)",
                )
            if h is None or r[4] != "blob":
                report.add(
                    "leaf",
                    idx,
                    f"leaf {idx}: its leaf_hash column holds {r[4]}, not a "
                    "32-byte hash (the row was written outside the log)",
                )
                h = None
            yield idx, data, h
        pos = int(rows[-1][0])


def _stream_nodes(
    conn: Connection, report: VerifyReport, chunk: int = 50_000
) -> Iterator[tuple[int, int, int, bytes]]:
    pos = -1
    h_col = cast(nodes.c.hash, LargeBinary) if conn.dialect.name == "sqlite" else nodes.c.hash
    while True:
        rows = conn.execute(
            select(nodes.c.pos, nodes.c.level, nodes.c.idx, h_col)
            .where(nodes.c.pos > pos)
            .order_by(nodes.c.pos)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for r in rows:
            h = _blob(r[3])
            if h is None:
                report.add(
                    "subtree",
                    f"{int(r[1])}/{int(r[2])}",
                    f"subtree (level {int(r[1])}, index {int(r[2])}): its hash column holds "
                    f"{type(r[3]).__name__}, not bytes",
                )
                h = _PLACEHOLDER
            yield int(r[0]), int(r[1]), int(r[2]), h
        pos = int(rows[-1][0])


def verify_log(engine: Engine, pubkey: bytes | str | Verifier | None = None) -> VerifyReport:
    """Verify the log in a database; see the module docstring for what is checked."""
    report = VerifyReport(source=redact_url(engine.url.render_as_string(hide_password=False)))
    if not inspect(engine).has_table("tlog_leaves"):
        raise TransparencyError("no transparency log in this database", code="log.missing")
    # One read transaction: on PostgreSQL REPEATABLE READ gives a single snapshot;
    # SQLite's WAL read transaction is a snapshot already.
    eng = (
        engine.execution_options(isolation_level="REPEATABLE READ")
        if (engine.dialect.name == "postgresql")
        else engine
    )
    with eng.connect() as conn, conn.begin():
        st = conn.execute(select(state.c.size, state.c.checkpoints)).first()
        if st is None:
            report.add("log", None, "tlog_state has no row: the log's size is unknown")
            log_size, cp_count = None, None
        else:
            log_size, cp_count = int(st[0]), int(st[1])
        krow = conn.execute(select(keys.c.name, keys.c.public_key)).first()
        stored = None if krow is None else Verifier.from_public_key(krow[0], bytes(krow[1]))
        verifier = resolve_verifier(pubkey, stored, report)
        cps = list_checkpoints(conn)
        replay = _Replay(report, {cp.size for cp in cps}, _stream_nodes(conn, report))
        expected = 0
        for idx, data, h in _stream(conn, report):
            while expected < idx:
                replay.leaf(expected, None, None)
                expected += 1
            replay.leaf(idx, data, h)
            expected = idx + 1
        if log_size is None:
            log_size = expected
        while expected < log_size:
            replay.leaf(expected, None, None)
            expected += 1
        if expected > log_size:
            report.add(
                "leaf",
                log_size,
                f"leaves {log_size}..{expected - 1} lie beyond the log size {log_size} "
                "in tlog_state",
            )
        replay.finish()
        report.size = log_size
        _check_checkpoints(
            report,
            cps,
            verifier,
            replay.roots,
            log_size,
            cp_count,
            replay.damaged_below,
            TransparencyLog(conn) if not report.problems else None,
        )
    return report


# --------------------------------------------------------------------------- export


def export_log(engine: Engine, directory: str | Path) -> dict[str, Any]:
    """Write the log as files a monitor can keep and verify without a database.

    - leaves.jsonl       {"index", "data" (hex), "leaf_hash" (hex)} per line
    - checkpoints.jsonl  {"id", "size", "root" (hex), "note", "created_at"} per line
    - checkpoint         the latest signed checkpoint note, as served by logs
    - verifier-key.txt   the log's public key in note verifier-key format
    - manifest.json      format, origin, size, number of checkpoints, time of export
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    with engine.connect() as conn, conn.begin():
        log = TransparencyLog(conn)
        size = log.size(conn=conn)
        krow = conn.execute(select(keys.c.name, keys.c.public_key)).first()
        if krow is None:
            raise TransparencyError("the log has no key yet", code="log.missing")
        verifier = Verifier.from_public_key(krow[0], bytes(krow[1]))
        with (out / "leaves.jsonl").open("w", encoding="utf-8") as f:
            for idx, data, h in log.iter_leaves(0, size, conn=conn):
                f.write(json.dumps({"index": idx, "data": data.hex(), "leaf_hash": h.hex()}))
                f.write("\n")
        cps = list_checkpoints(conn)
    with (out / "checkpoints.jsonl").open("w", encoding="utf-8") as f:
        for cp in cps:
            f.write(json.dumps(cp.to_json() | {"created_at_us": cp.created_at}) + "\n")
    if cps:
        (out / "checkpoint").write_text(cps[-1].note, encoding="utf-8")
    (out / "verifier-key.txt").write_text(verifier.encode() + "\n", encoding="utf-8")
    manifest = {
        "format": EXPORT_FORMAT,
        "origin": verifier.name,
        "size": size,
        "checkpoints": len(cps),
        "exported_at": format_instant(now_us()),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _jsonl(path: Path, report: VerifyReport) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                report.add("log", f"{path.name}:{n}", f"{path.name} line {n} is not valid: {exc}")
                continue
            yield n, obj


def verify_export(
    directory: str | Path, pubkey: bytes | str | Verifier | None = None
) -> VerifyReport:
    """Verify an exported log directory (see `export_log` for its files).

    Every leaf hash is recomputed from its data, the root at every checkpoint's size
    recomputed from the leaves, and every signature checked. Checkpoints whose
    roots all come from the one sequence of leaves are prefixes of one another, so
    they are consistent by construction; their order and sizes are still checked.
    """
    d = Path(directory)
    report = VerifyReport(source=str(d))
    for name in ("leaves.jsonl", "checkpoints.jsonl"):
        if not (d / name).is_file():
            raise TransparencyError(f"{d} is not a log export: {name} is missing")
    stored: Verifier | None = None
    if (d / "verifier-key.txt").is_file():
        try:
            stored = Verifier.parse((d / "verifier-key.txt").read_text(encoding="utf-8"))
        except NoteError as exc:
            report.add("key", "verifier-key.txt", f"verifier-key.txt: {exc}")
    verifier = resolve_verifier(pubkey, stored, report)
    if pubkey is None and stored is not None:
        report.notes[-1] = (
            "signatures were checked against the export's own verifier-key.txt; "
            "pass the published verifier key (--pubkey) for an independent check"
        )
    cps: list[Checkpoint] = []
    for n, obj in _jsonl(d / "checkpoints.jsonl", report):
        try:
            cps.append(
                Checkpoint(
                    int(obj["id"]),
                    int(obj["size"]),
                    bytes.fromhex(obj["root"]),
                    str(obj["note"]),
                    int(obj.get("created_at_us", 0)),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            report.add("log", f"checkpoints.jsonl:{n}", f"checkpoints.jsonl line {n}: {exc}")
    replay = _Replay(report, {cp.size for cp in cps}, None)
    expected = 0
    for n, obj in _jsonl(d / "leaves.jsonl", report):
        try:
            idx = int(obj["index"])
            data = bytes.fromhex(obj["data"])
            h = bytes.fromhex(obj["leaf_hash"])
        except (KeyError, ValueError, TypeError) as exc:
            report.add("log", f"leaves.jsonl:{n}", f"leaves.jsonl line {n}: {exc}")
            continue
        if idx < expected:
            report.add("leaf", idx, f"leaf {idx} appears again or out of order (line {n})")
            continue
        while expected < idx:
            replay.leaf(expected, None, None)
            expected += 1
        replay.leaf(idx, data, h)
        expected = idx + 1
    replay.finish()
    report.size = expected
    manifest_size: int | None = None
    if (d / "manifest.json").is_file():
        try:
            manifest_size = int(json.loads((d / "manifest.json").read_text())["size"])
        except (ValueError, KeyError, TypeError):
            report.add("log", "manifest.json", "manifest.json is not valid")
    if manifest_size is not None and manifest_size != expected:
        if manifest_size > expected:
            for i in range(expected, min(manifest_size, expected + 10)):
                report.add("leaf", i, f"leaf {i} is missing (the manifest says {manifest_size})")
        else:
            report.add(
                "log", "manifest.json", f"manifest says {manifest_size} leaves, found {expected}"
            )
    _check_checkpoints(
        report, cps, verifier, replay.roots, expected, None, replay.damaged_below, None
    )
    return report
