"""`socialcredit log ...`: read, prove and verify the transparency log.

Thin on purpose: every command calls the Python API. JSON output is the contract
outside checks read; the rest is for people and uses rich.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from socialcredit.db import make_engine, resolve_db_url, sqlite_path
from socialcredit.transparency import merkle
from socialcredit.transparency.checkpoint import latest_checkpoint, log_verifier
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.store import TransparencyLog
from socialcredit.transparency.verify import VerifyReport, export_log, verify_export, verify_log

app = typer.Typer(
    name="log",
    help="The public transparency log: checkpoints, leaves, proofs, verification.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db", help="Database URL or SQLite path (default $SOCIALCREDIT_DB, ./socialcredit.db)."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """Known failures become one clear line on stderr and exit status 1."""
    try:
        yield
    except TransparencyError as exc:
        _fail(str(exc))
    except SQLAlchemyError as exc:
        _fail(f"database: {str(exc).splitlines()[0]}")
    except OSError as exc:
        _fail(str(exc))


def _engine(db: str | None) -> Engine:
    url = resolve_db_url(db)
    path = sqlite_path(url)
    if url.startswith("sqlite") and (path is None or not path.exists()):
        raise TransparencyError(f"no database at {path or url}")
    engine = make_engine(url)
    if not inspect(engine).has_table("tlog_state"):
        raise TransparencyError(
            "no transparency log in this database; run `socialcredit init` first"
        )
    return engine


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


@app.command("checkpoint")
def checkpoint_cmd(db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Show the latest signed checkpoint (tree size, root, signed note)."""
    with _errors():
        engine = _engine(db)
        with engine.connect() as conn:
            cp = latest_checkpoint(conn)
        if cp is None:
            raise TransparencyError("the log has no checkpoint yet")
        if as_json:
            _print_json(cp.to_json())
            return
        out.print(
            f"[bold]checkpoint #{cp.id}[/]  size {cp.size}  root {cp.root.hex()}", soft_wrap=True
        )
        out.print(cp.to_json()["created_at"], style="dim")
        # soft_wrap: the note must come out byte for byte, so it can be copied and verified
        out.print(cp.note, highlight=False, markup=False, end="", soft_wrap=True)


@app.command("leaves")
def leaves_cmd(
    start: Annotated[int, typer.Option(help="First leaf index.")] = 0,
    end: Annotated[int | None, typer.Option(help="One past the last leaf (default: size).")] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List leaves [start, end): their data as hex (JSON) or as text (table)."""
    with _errors():
        log = TransparencyLog(_engine(db))
        size = log.size()
        stop = size if end is None else end
        if not 0 <= start <= stop <= size:
            raise TransparencyError(f"bad range [{start}, {stop}): the log has {size} leaves")
        rows = list(log.iter_leaves(start, stop))
        if as_json:
            _print_json({"start": start, "end": stop, "leaves": [d.hex() for _, d, _ in rows]})
            return
        table = Table(title=f"leaves {start}..{stop - 1} of {size}" if rows else "no leaves")
        table.add_column("index", justify="right")
        table.add_column("leaf hash")
        table.add_column("data")
        for idx, data, h in rows:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                text = data.hex()
            table.add_row(str(idx), h.hex()[:16] + "…", text)
        out.print(table)


def _default_size(log: TransparencyLog, size: int | None) -> int:
    """Proofs are for signed heads: default to the latest checkpoint's size."""
    if size is not None:
        return size
    bind = log.bind
    assert isinstance(bind, Engine)
    with bind.connect() as conn:
        cp = latest_checkpoint(conn)
    return cp.size if cp is not None else log.size()


@app.command("prove")
def prove_cmd(
    index: Annotated[int, typer.Argument(help="Leaf index.")],
    size: Annotated[
        int | None, typer.Option(help="Tree size (default: the latest checkpoint's).")
    ] = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Inclusion proof of leaf INDEX in the tree of the given size (RFC 9162 §2.1.3)."""
    with _errors():
        log = TransparencyLog(_engine(db))
        n = _default_size(log, size)
        path = log.inclusion_proof(index, n)
        leaf = log.leaf_hash(index)
        root = log.root(n)
        if as_json:
            _print_json(
                {
                    "leaf_index": index,
                    "tree_size": n,
                    "leaf_hash": leaf.hex(),
                    "path": [p.hex() for p in path],
                    "root": root.hex(),
                }
            )
            return
        ok = merkle.verify_inclusion(index, n, leaf, path, root)
        out.print(
            f"leaf [bold]{index}[/] in tree of size [bold]{n}[/], root {root.hex()}",
            soft_wrap=True,
        )
        out.print(f"leaf hash {leaf.hex()}")
        for i, p in enumerate(path):
            out.print(f"  {i:2d} {p.hex()}")
        out.print("[green]proof verifies[/]" if ok else "[red]proof does NOT verify[/]")


@app.command("consistency")
def consistency_cmd(
    first: Annotated[int, typer.Argument(help="Size of the older tree.")],
    second: Annotated[int, typer.Argument(help="Size of the newer tree.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Consistency proof that tree FIRST is a prefix of tree SECOND (RFC 9162 §2.1.4)."""
    with _errors():
        log = TransparencyLog(_engine(db))
        path = log.consistency_proof(first, second)
        r1, r2 = log.root(first), log.root(second)
        if as_json:
            _print_json(
                {
                    "first": first,
                    "second": second,
                    "path": [p.hex() for p in path],
                    "first_root": r1.hex(),
                    "second_root": r2.hex(),
                }
            )
            return
        ok = merkle.verify_consistency(first, second, r1, r2, path)
        out.print(f"size {first} root {r1.hex()}\nsize {second} root {r2.hex()}", soft_wrap=True)
        for i, p in enumerate(path):
            out.print(f"  {i:2d} {p.hex()}")
        out.print("[green]proof verifies[/]" if ok else "[red]proof does NOT verify[/]")


@app.command("verify")
def verify_cmd(
    db: DbOpt = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="Verify an exported log directory instead.")
    ] = None,
    pubkey: Annotated[
        Path | None, typer.Option("--pubkey", help="File with the published verifier key.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Recompute every leaf, subtree, checkpoint root and signature; exit 1 naming what is wrong."""
    with _errors():
        key = pubkey.read_text(encoding="utf-8").strip() if pubkey is not None else None
        if export is not None and db is not None:
            raise TransparencyError("give --db or --export, not both")
        report = verify_export(export, key) if export is not None else verify_log(_engine(db), key)
    _show_report(report, as_json)
    if not report.ok:
        raise typer.Exit(1)


def _show_report(report: VerifyReport, as_json: bool) -> None:
    if as_json:
        _print_json(report.to_json())
        return
    summary = (
        f"{report.leaves_checked} leaves, {report.subtrees_checked} subtrees, "
        f"{report.checkpoints_checked} checkpoints checked (log size {report.size})"
    )
    for note in report.notes:
        out.print(f"[yellow]note:[/] {note}", highlight=False, soft_wrap=True)
    if report.ok:
        out.print(f"[bold green]log verified[/]: {summary}", highlight=False, soft_wrap=True)
        return
    err.print(f"[bold red]log verification FAILED[/]: {summary}", highlight=False, soft_wrap=True)
    for p in report.problems[:50]:
        err.print(Text.assemble(("  ✗ ", "red"), p.message), highlight=False, soft_wrap=True)
    if len(report.problems) > 50:
        err.print(f"  … and {len(report.problems) - 50} more problems")


@app.command("pubkey")
def pubkey_cmd(db: DbOpt = None) -> None:
    """Print the log's verifier key (name+keyid+key) for monitors to pin."""
    with _errors():
        engine = _engine(db)
        with engine.connect() as conn:
            typer.echo(log_verifier(conn).encode())


@app.command("export")
def export_cmd(
    directory: Annotated[Path, typer.Argument(help="Directory to write the export to.")],
    db: DbOpt = None,
) -> None:
    """Export leaves, checkpoints and the verifier key as files for monitors."""
    with _errors():
        manifest = export_log(_engine(db), directory)
    out.print(
        f"exported {manifest['size']} leaves and {manifest['checkpoints']} checkpoints "
        f"of [bold]{manifest['origin']}[/] to {directory}",
        highlight=False,
    )


@app.command("mine")
def mine_cmd(
    subject: Annotated[str, typer.Argument(help="The subject asking for its own leaves.")],
    db: DbOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A subject's own leaves: its salt (which only it is given), its commitment, and each
    leaf that names it, with an inclusion proof in the latest tree.

    Nobody else can link these leaves to the subject: the commitment is a keyed hash of
    the subject id under a per-subject salt.
    """
    from socialcredit.transparency.events import parse_leaf, reveal_salt, subject_commitment

    with _errors():
        engine = _engine(db)
        with engine.connect() as conn:
            salt = reveal_salt(conn, subject)
        if salt is None:
            if as_json:
                _print_json({"subject": subject, "commitment": None, "leaves": []})
            else:
                out.print(f"no leaf of the log concerns {subject}")
            return
        commitment = subject_commitment(subject, salt)
        log = TransparencyLog(engine)
        n = _default_size(log, None)
        found: list[dict[str, Any]] = []
        for index, data in enumerate(log.leaves(0, n)):
            event = parse_leaf(data)
            if event.get("commitment") == commitment:
                found.append({"leaf_index": index, "event": event,
                              "path": [p.hex() for p in log.inclusion_proof(index, n)]})
        result = {"subject": subject, "salt": salt.hex(), "commitment": commitment,
                  "tree_size": n, "root": log.root(n).hex(), "leaves": found}
        if as_json:
            _print_json(result)
            return
        out.print(f"{subject}: commitment {commitment} (salt {salt.hex()})")
        for f in found:
            e = f["event"]
            out.print(f"  leaf {f['leaf_index']}: {e['kind']} "
                      + ", ".join(f"{k}={v}" for k, v in e.items()
                                  if k not in ("kind", "v", "commitment")))
