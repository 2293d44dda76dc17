"""Ledgers, programs, providers and schema upgrades."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialcredit.cli.options import (
    AsOpt,
    DbOpt,
    JsonOpt,
    emit_json,
    err,
    instant,
    open_service,
    say,
)

provider_app = typer.Typer(no_args_is_help=True, help="Data providers and their roles.")
db_app = typer.Typer(no_args_is_help=True, help="The ledger database's schema.")
catalogue_app = typer.Typer(no_args_is_help=True,
                            help="Catalogues: the allowlists of what rulebooks may record "
                                 "and do.")
CatalogueOpt = Annotated[str | None, typer.Option(
    "--catalogue", help="The catalogue the rulebook cites (a YAML file or a shipped name), "
                        "when the ledger does not have it yet.", show_default=False)]


def init(rulebook: Annotated[Path, typer.Option(
             "--rulebook", help="The first program's rulebook (YAML).")],
         db: DbOpt = None,
         effective: Annotated[str | None, typer.Option(
             help="When the first version takes effect (default: from the beginning of "
                  "time).", show_default=False)] = None,
         origin: Annotated[str | None, typer.Option(
             help="The public log's name (default: socialcredit/<database name>).",
             show_default=False)] = None,
         catalogue: CatalogueOpt = None,
         partitions: Annotated[int | None, typer.Option(
             help="PostgreSQL only: hash-partition the records, decisions, subjects and "
                  "standings by subject into this many partitions (fixed for the "
                  "ledger's life; default $SOCIALCREDIT_PG_PARTITIONS, else none). See "
                  "docs/scale.md.", show_default=False)] = None,
         json_: JsonOpt = False) -> None:
    """Create a ledger with a first program (refused if the rulebook crosses a line or
    goes beyond its catalogue; a shipped catalogue it cites is published with it)."""
    from socialcredit.rulebook import load_rulebook
    from socialcredit.rulebook.shipped import load_catalogue_named
    from socialcredit.service import Service

    rb = load_rulebook(rulebook)
    cat = load_catalogue_named(catalogue) if catalogue else None
    with Service.create(rb, db, effective=instant(effective, "--effective"),
                        origin=origin, catalogue=cat, partitions=partitions) as svc:
        parts = svc.partitions()
        info = {"db": svc.ledger.display_url, "program": rb.rulebook, "version": rb.version,
                "sha256": rb.sha256, "partitions": parts}
    if json_:
        emit_json(info)
    else:
        layout = f", {parts} partitions by subject" if parts > 1 else ""
        say(f"created ledger {info['db']} with program {rb.rulebook} version {rb.version} "
            f"(sha256 {rb.sha256[:16]}…){layout}")


def publish(file: Annotated[Path, typer.Argument(help="The rulebook (YAML) to publish.")],
            effective: Annotated[str | None, typer.Option(
                help="When this version takes effect (default: its publication time; a "
                     "program's first version: the beginning of time).",
                show_default=False)] = None,
            strict: Annotated[bool, typer.Option(
                "--strict", help="Refuse to publish if the linter finds any error, in any "
                                 "profile (the baseline refuses in any case).")] = False,
            catalogue: CatalogueOpt = None,
            db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Add a program, or a new version of one: prints what the linter finds and what
    changes, rule by rule, against the version in force, then publishes."""
    from socialcredit.cli.lint import render
    from socialcredit.rulebook import load_rulebook
    from socialcredit.rulebook.shipped import load_catalogue_named
    from socialcredit.service.programs import version_dict

    rb = load_rulebook(file)
    cat = load_catalogue_named(catalogue) if catalogue else None
    with open_service(db, as_) as svc:
        review = svc.programs.review(rb, cat)
        if not json_:
            render(review.report, err())
            against = (f"{review.in_force.program} version {review.in_force.version}"
                       if review.in_force else "nothing published")
            err().print(f"changes against {against}:" if review.diff else
                        f"no changes against {against}", markup=False, highlight=False)
            for line in review.diff:
                err().print(f"  {line}", markup=False, highlight=False)
        pv = svc.programs.publish(rb, effective=instant(effective, "--effective"),
                                  catalogue=cat, strict=strict)
    info = version_dict(pv)
    if json_:
        emit_json({**info, "review": review.as_dict()})
    else:
        say(f"published {pv.program} version {pv.version}, effective {info['effective_at']} "
            f"(sha256 {pv.sha256[:16]}…)")


def programs(db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """List the programs and their versions (with when each takes effect)."""
    from socialcredit.service.programs import version_dict

    with open_service(db, as_) as svc:
        rows = [version_dict(pv) for pv in svc.programs.versions()]
    if json_:
        emit_json(rows)
        return
    from rich.table import Table

    from socialcredit.cli.options import out

    table = Table("program", "version", "effective", "published", "sha256")
    for r in rows:
        table.add_row(r["program"], r["version"], str(r["effective_at"]),
                      str(r["published_at"]), str(r["sha256"])[:16] + "…")
    out().print(table)


@provider_app.command("add")
def provider_add(provider: Annotated[str, typer.Argument(help="The provider's id.")],
                 role: Annotated[str, typer.Option(
                     "--role", help="The role rulebooks authorise (bank, court, "
                                    "reviewer…).")],
                 new_role: Annotated[bool, typer.Option(
                     "--new-role", help="Register a role no published rulebook names yet "
                                        "(refused otherwise: it is most often a typo).")
                 ] = False,
                 db: DbOpt = None, as_: AsOpt = None) -> None:
    """Register a data provider with its role (one a published rulebook names)."""
    with open_service(db, as_) as svc:
        added = svc.providers.add(provider, role, new_role=new_role)
    say(f"provider {provider} {'registered' if added else 'was already registered'} with "
        f"role {role}")


@provider_app.command("list")
def provider_list(db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """List registered providers."""
    with open_service(db, as_) as svc:
        provs = svc.providers.list()
    if json_:
        emit_json(provs)
        return
    from rich.table import Table

    from socialcredit.cli.options import out

    table = Table("provider", "role")
    for p, r in sorted(provs.items()):
        table.add_row(p, r)
    out().print(table)


def backup(dest: Annotated[Path, typer.Argument(help="The backup file to write (new).")],
           db: DbOpt = None, json_: JsonOpt = False) -> None:
    """Write a consistent copy of the ledger while it runs (SQLite's online backup API, or
    pg_dump for PostgreSQL). The key directory is not in it: back it up apart."""
    with open_service(db) as svc:
        info = svc.backup(dest)
    if json_:
        emit_json(info)
    else:
        say(f"backed up {info['db']} ({info['records']:,} records, log size "
            f"{info['log_size']:,}) to {info['backup']} ({info['format']}, "
            f"{info['bytes']:,} bytes); back up the keys in {info['keys_not_included']} "
            "separately")


def restore(src: Annotated[Path, typer.Argument(help="A file written by `backup`.")],
            db: DbOpt = None, json_: JsonOpt = False) -> None:
    """Restore a backup into an address that holds no ledger yet; `verify` it after."""
    from socialcredit.service import Service

    info = Service.restore(src, db)
    if json_:
        emit_json(info)
    else:
        say(f"restored {info['restored_from']} into {info['db']} ({info['records']:,} "
            f"records, log size {info['log_size']:,}); check it with `socialcredit verify`")


@catalogue_app.command("publish")
def catalogue_publish(file: Annotated[str, typer.Argument(
                          metavar="FILE|NAME", help="A catalogue YAML file or a shipped "
                                                    "catalogue's name.")],
                      db: DbOpt = None, as_: AsOpt = None, json_: JsonOpt = False) -> None:
    """Publish a catalogue version (logged); refused if the protected-category lexicon
    flags any of its items or measures."""
    from socialcredit.rulebook.shipped import load_catalogue_named

    cat = load_catalogue_named(file)
    with open_service(db, as_) as svc:
        added = svc.catalogues.publish(cat)
    info = {"catalogue": cat.catalogue, "version": cat.version, "sha256": cat.sha256,
            "published": added}
    if json_:
        emit_json(info)
    else:
        say(f"catalogue {cat.catalogue} version {cat.version} "
            f"{'published' if added else 'was already published'} "
            f"(sha256 {cat.sha256[:16]}…)")


@catalogue_app.command("list")
def catalogue_list(db: DbOpt = None, json_: JsonOpt = False) -> None:
    """List the published catalogues."""
    with open_service(db) as svc:
        rows = svc.catalogues.list()
    if json_:
        emit_json(rows)
        return
    from rich.table import Table

    from socialcredit.cli.options import out

    table = Table("catalogue", "version", "published", "sha256")
    for r in rows:
        table.add_row(r["catalogue"], r["version"], str(r["published_at"]),
                      r["sha256"][:16] + "…")
    out().print(table)


@db_app.command("upgrade")
def db_upgrade(db: DbOpt = None, json_: JsonOpt = False) -> None:
    """Bring the ledger's schema up to this release (its data is kept)."""
    from socialcredit.service import Service

    before, after = Service.upgrade(db)
    if json_:
        emit_json({"from": before, "to": after})
    elif before == after:
        say(f"the ledger's schema is current (revision {after})")
    else:
        say(f"upgraded the ledger's schema from {before} to revision {after}")


__all__ = ["backup", "catalogue_app", "db_app", "init", "programs", "provider_app",
           "publish", "restore"]
