"""`socialcredit log …`: read, prove and verify the public transparency log.

JSON output is the contract outside checks read; the rest is for people.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from socialcredit.cli.errors import EXIT_FINDINGS
from socialcredit.cli.options import AsOpt, DbOpt, JsonOpt, emit_json, err, open_service, out
from socialcredit.errors import UsageError

if TYPE_CHECKING:
    from socialcredit.service.audit import LedgerReport
    from socialcredit.transparency.verify import VerifyReport

app = typer.Typer(name="log", no_args_is_help=True,
                  help="The public transparency log: checkpoints, leaves, proofs, "
                       "verification.")
SizeOpt = Annotated[int | None, typer.Option(
    help="Tree size (default: the latest checkpoint's).", show_default=False)]


@app.command("checkpoint")
def checkpoint_cmd(db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Show the latest signed checkpoint (tree size, root, signed note)."""
    with open_service(db, as_) as svc:
        cp = svc.log.checkpoint()
    if json_:
        emit_json(cp.to_json())
        return
    out().print(f"[bold]checkpoint #{cp.id}[/]  size {cp.size}  root {cp.root.hex()}")
    out().print(cp.to_json()["created_at"], style="dim")
    # the note must come out byte for byte, so it can be copied and verified
    out().print(cp.note, highlight=False, markup=False, end="")


@app.command("leaves")
def leaves_cmd(start: Annotated[int, typer.Option(help="First leaf index.")] = 0,
               end: Annotated[int | None, typer.Option(
                   help="One past the last leaf (default: the log's size).",
                   show_default=False)] = None,
               db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """List leaves [start, end): their data as hex (JSON) or as text (table)."""
    with open_service(db, as_) as svc:
        rows = svc.log.leaves(start, end)
        size = svc.log.tree.size()
    stop = start + len(rows)
    if json_:
        emit_json({"start": start, "end": stop, "leaves": [d.hex() for _, d, _ in rows]})
        return
    from rich.table import Table

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
    out().print(table)


@app.command("prove")
def prove_cmd(index: Annotated[int, typer.Argument(help="Leaf index.")],
              size: SizeOpt = None, db: DbOpt = None, as_: AsOpt = None,
              json_: JsonOpt = False) -> None:
    """Inclusion proof of leaf INDEX in the tree of the given size (RFC 9162 §2.1.3)."""
    with open_service(db, as_) as svc:
        p = svc.log.prove(index, size)
    if json_:
        emit_json({k: v for k, v in p.items() if k != "verified"})
        return
    out().print(f"leaf [bold]{index}[/] in tree of size [bold]{p['tree_size']}[/], root "
                f"{p['root']}")
    out().print(f"leaf hash {p['leaf_hash']}")
    for i, h in enumerate(p["path"]):
        out().print(f"  {i:2d} {h}")
    out().print("[green]proof verifies[/]" if p["verified"] else
                "[red]proof does NOT verify[/]")


@app.command("consistency")
def consistency_cmd(first: Annotated[int, typer.Argument(help="Size of the older tree.")],
                    second: Annotated[int, typer.Argument(help="Size of the newer tree.")],
                    db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Consistency proof that tree FIRST is a prefix of tree SECOND (RFC 9162 §2.1.4)."""
    with open_service(db, as_) as svc:
        p = svc.log.consistency(first, second)
    if json_:
        emit_json({k: v for k, v in p.items() if k != "verified"})
        return
    out().print(f"size {first} root {p['first_root']}\nsize {second} root {p['second_root']}")
    for i, h in enumerate(p["path"]):
        out().print(f"  {i:2d} {h}")
    out().print("[green]proof verifies[/]" if p["verified"] else
                "[red]proof does NOT verify[/]")


@app.command("verify")
def verify_cmd(db: DbOpt = None, as_: AsOpt = None,
               export: Annotated[Path | None, typer.Option(
                   "--export", help="Verify an exported log directory instead.",
                   show_default=False)] = None,
               pubkey: Annotated[Path | None, typer.Option(
                   "--pubkey", help="File with the published verifier key.",
                   show_default=False)] = None,
               json_: JsonOpt = False) -> None:
    """Recompute every leaf, subtree, checkpoint root and signature; exit 2 naming what
    is wrong."""
    from socialcredit.service.log import verify_exported

    key = _read_key(pubkey)
    if export is not None and db is not None:
        raise UsageError("give --db or --export, not both")
    if export is not None:
        report = verify_exported(export, key)
    else:
        with open_service(db, as_) as svc:
            report = svc.log.verify(key)
    _show_report(report, json_)
    if not report.ok:
        raise typer.Exit(EXIT_FINDINGS)


def _read_key(path: Path | None) -> str | None:
    if path is None:
        return None
    from socialcredit.errors import SocialCreditError

    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SocialCreditError(f"{path}: cannot read the verifier key ({exc.__class__.__name__})",
                                code="not_found") from None


def _show_report(report: VerifyReport, json_: bool) -> None:
    if json_:
        emit_json(report.to_json())
        return
    from rich.text import Text

    summary = (f"{report.leaves_checked} leaves, {report.subtrees_checked} subtrees, "
               f"{report.checkpoints_checked} checkpoints checked (log size {report.size})")
    for note in report.notes:
        out().print(f"[yellow]note:[/] {note}", highlight=False)
    if report.ok:
        out().print(f"[bold green]log verified[/]: {summary}", highlight=False)
        return
    err().print(f"[bold red]log verification FAILED[/]: {summary}", highlight=False)
    for p in report.problems[:50]:
        err().print(Text.assemble(("  ✗ ", "red"), p.message), highlight=False)
    if len(report.problems) > 50:
        err().print(f"  … and {len(report.problems) - 50} more problems")


def verify_all(db: DbOpt = None,
               pubkey: Annotated[Path | None, typer.Option(
                   "--pubkey", help="File with the published verifier key.",
                   show_default=False)] = None,
               json_: JsonOpt = False) -> None:
    """Verify the log, then every record, ingest batch, rulebook, sealed decision and
    provider of the ledger against it; exit 2 naming each changed, deleted or inserted
    row."""
    key = _read_key(pubkey)
    with open_service(db) as svc:
        report = svc.log.verify_ledger(key)
    if json_:
        emit_json(report.to_json())
    else:
        _show_ledger_report(report)
    if not report.ok:
        raise typer.Exit(EXIT_FINDINGS)


def _show_ledger_report(report: LedgerReport) -> None:
    from rich.text import Text

    _show_report(report.log, False)
    summary = (f"{report.records} records in {report.batches} batches, {report.rulebooks} "
               f"rulebooks, {report.decisions} decisions ({report.sealed} sealed), "
               f"{report.providers} providers checked")
    for note in report.notes:
        out().print(f"[yellow]note:[/] {note}", highlight=False)
    if not report.problems:
        out().print(f"[bold green]ledger verified[/]: {summary}", highlight=False)
        return
    err().print(f"[bold red]ledger verification FAILED[/]: {summary}", highlight=False)
    for p in report.problems[:100]:
        err().print(Text.assemble(("  ✗ ", "red"), p.message), highlight=False)
    if len(report.problems) > 100:
        err().print(f"  … and {len(report.problems) - 100} more problems")


@app.command("pubkey")
def pubkey_cmd(db: DbOpt = None, as_: AsOpt = None) -> None:
    """Print the log's verifier key (name+keyid+key) for monitors to pin."""
    with open_service(db, as_) as svc:
        typer.echo(svc.log.pubkey())


@app.command("export")
def export_cmd(directory: Annotated[Path, typer.Argument(
                   help="Directory to write the export to.")],
               db: DbOpt = None, as_: AsOpt = None) -> None:
    """Export leaves, checkpoints and the verifier key as files for monitors."""
    with open_service(db, as_) as svc:
        manifest = svc.log.export(directory)
    out().print(f"exported {manifest['size']} leaves and {manifest['checkpoints']} "
                f"checkpoints of [bold]{manifest['origin']}[/] to {directory}",
                highlight=False)


@app.command("mine")
def mine_cmd(subject: Annotated[str, typer.Argument(
                 help="The subject asking for its own leaves.")],
             db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """A subject's own leaves: its salt (which only it is given), its commitment, and
    each leaf that names it, with an inclusion proof in the latest signed tree."""
    with open_service(db, as_) as svc:
        result = svc.log.mine(subject)
    if json_:
        emit_json(result)
        return
    if result["commitment"] is None:
        out().print(f"no leaf of the log concerns {subject}", markup=False)
        return
    out().print(f"{subject}: commitment {result['commitment']} (salt {result['salt']})",
                markup=False)
    for f in result["leaves"]:
        e = f["event"]
        out().print(f"  leaf {f['leaf_index']}: {e['kind']} "
                    + ", ".join(f"{k}={v}" for k, v in e.items()
                                if k not in ("kind", "v", "commitment")), markup=False)


__all__ = ["app", "verify_all"]
