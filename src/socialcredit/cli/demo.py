"""`socialcredit demo` (the README's main job, end to end on the embedded default) and
`socialcredit synth`.

It builds ./demo.db from the two shipped rulebooks and a synthetic population, then
shows what an operator, a subject and a relying party each see.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

PROGRAMS = ("rongcheng", "judgment-defaulters")


def _fresh(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)


def run_demo(out: Console, db: Path, *, subjects: int = 10_000, seed: int = 7,
             months: int = 36) -> None:
    from rich.table import Table

    from socialcredit.cli.render import render_decision, render_standing
    from socialcredit.lab.synth import synthesize_to_file
    from socialcredit.lint import lint
    from socialcredit.rulebook.shipped import load_named
    from socialcredit.service import Service
    from socialcredit.timeutil import US_PER_DAY, format_instant, parse_instant

    _fresh(db)
    rbs = [load_named(p) for p in PROGRAMS]
    out.rule("[bold]socialcredit demo")
    out.print(f"Building {db} from the shipped rulebooks {', '.join(PROGRAMS)} and a synthetic "
              f"population of {subjects:,} subjects ({months} months of history, seed {seed}).")
    svc = Service.create(rbs[0], str(db))
    for rb in rbs[1:]:
        svc.programs.publish(rb)
    with tempfile.TemporaryDirectory(prefix="sc-demo-") as tmp:
        # the generated file is an input, not a result: it goes when the demo is done
        records_file = Path(tmp) / "demo.records.csv"
        stats = synthesize_to_file(rbs, records_file, subjects=subjects, months=months,
                                   seed=seed, backfill_times=True)
        for provider, role in stats.providers:
            svc.providers.add(provider, role)
        started = time.perf_counter()
        rep = svc.records.ingest_file(records_file, backfill=True)
        took = time.perf_counter() - started
    out.print(f"Ingested {rep.accepted:,} records (a pilot's history, `ingest --backfill`, "
              f"logged) in {took:.1f} s — {rep.accepted / took:,.0f} records/s.")

    now = svc.now()
    out.rule("Tier distribution (rongcheng, now)")
    started = time.perf_counter()
    standings = svc.standings.all("rongcheng", now)
    scored = [s for s in standings if s.applies]
    tiers = Counter(s.tier for s in scored)
    table = Table("tier", "subjects", "share")
    for tier in [t.id for t in rbs[0].tiers]:
        table.add_row(tier, f"{tiers[tier]:,}", f"{tiers[tier] / max(len(scored), 1):.1%}")
    out.print(table)
    out.print(f"{len(scored):,} persons scored in {time.perf_counter() - started:.1f} s; "
              f"organizations are outside rongcheng's scope (it applies to persons).")

    out.rule("Who is listed, and why (judgment-defaulters)")
    court = svc.standings.all("judgment-defaulters", now)
    listed_now = [s for s in court if s.lists]
    pending = [s for s in court if s.pending]
    # the history was backfilled just now: every listing it causes gives its full notice
    # period from now, so look at the list once the objection windows have run out
    after_notice = now + 11 * US_PER_DAY
    listed = [s for s in svc.standings.all("judgment-defaulters", after_notice) if s.lists]
    out.print(f"{len(listed_now):,} subjects on the public list of dishonest judgment "
              f"defaulters now: the history was backfilled just now, and every listing it "
              f"causes gives a full 10-day objection window from today. {len(pending):,} "
              f"have been notified. In 11 days, with nothing more recorded (a projection), "
              f"{len(listed):,} are listed unless they object or pay:")
    lt = Table("subject", "kind", "because of record", "listed from", "until")
    shown = sorted(listed, key=lambda s: (s.subject_kind != "person", s.subject))[:4] + sorted(
        listed, key=lambda s: (s.subject_kind != "organization", s.subject))[:3]
    for st in shown:
        e = st.list_entries[0]
        lt.add_row(st.subject, st.subject_kind or "", e.record_id or "",
                   (format_instant(e.start) or "")[:10], (format_instant(e.end) or "")[:10])
    out.print(lt)
    d_grade = [s for s in svc.standings.all("rongcheng", now + 31 * US_PER_DAY)
               if s.applies and s.lists]
    out.print(f"In 31 days, {len(d_grade):,} persons hold rongcheng's D grade unless their "
              "score recovers (below 600 for the whole 30-day notice period, counted from "
              "when the ledger knew it).")

    out.rule("One standing, explained record by record")
    worst = min(scored, key=lambda s: (s.score, s.subject))
    render_standing(out, svc.standings.of(worst.subject, "rongcheng", now))
    later = parse_instant("2028-01-01")
    proj = svc.standings.of(worst.subject, "rongcheng", later)
    out.print(f"Projection: with nothing more recorded, {worst.subject} scores "
              f"{proj.score:.1f} (tier {proj.tier}) on {format_instant(later)} — records expire.")

    out.rule("Decisions (written to the decision log)")
    best = max(scored, key=lambda s: (s.score, s.subject))
    asks = [(best.subject, "rental.bike", "rongcheng"),
            (worst.subject, "bank.loan", "rongcheng")]
    ahead: list[tuple[str, str, str]] = []
    if listed:
        asks.append((listed[0].subject, "rail.g_train_ticket", "judgment-defaulters"))
        ahead.append((listed[0].subject, "aviation.flight_ticket", "judgment-defaulters"))
    for subject, action, program in asks:
        render_decision(out, svc.decisions.decide(subject, action, program))
    for subject, action, program in ahead:  # asked about a time to come: hypothetical
        render_decision(out, svc.decisions.decide(subject, action, program, after_notice))
    sealed = svc.decisions.seal()
    out.rule("The public transparency log")
    cp = svc.log.checkpoint()
    out.print(f"Decisions sealed into the log: {sum(b['count'] for b in sealed)}. Every "
              "rulebook publication, listing, void and listing-ending resolution is a leaf.")
    out.print(cp.note.rstrip())
    out.print(f"Verify it yourself: socialcredit log verify --db {db}")

    out.rule("What the rights-and-law linter says about these rulebooks")
    for rb in [*rbs, load_named("media-reported")]:
        report = lint(rb)
        first = next((f for f in report.findings if f.severity == "error"), None)
        out.print(f"[bold]{rb.rulebook}[/]: {report.count('error')} error(s), "
                  f"{report.count('warning')} warning(s)"
                  + ("" if report.operable else " — [red]refused: the engine will not "
                     "operate it[/]"))
        if first is not None:
            out.print(f"  e.g. {first.path}: {first.message}", markup=False)
    out.print("Details: socialcredit lint rongcheng (a shipped name or a YAML file; "
              "docs/lint.md)")
    out.rule()
    out.print(f"Explore: socialcredit standing {worst.subject} --program rongcheng --db {db}")
    svc.close()


def demo_cmd(db: Annotated[Path, typer.Option("--db", help="Where to build the demo ledger "
                                              "(replaced if it exists).")] = Path("demo.db"),
             subjects: Annotated[int, typer.Option("--subjects",
                                                   help="Size of the population.")] = 10_000,
             seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7) -> None:
    """Build ./demo.db from the shipped rulebooks and a synthetic population, then show
    what the system does: tiers, listings, one explained standing, decisions."""
    from socialcredit.cli.options import out

    run_demo(out(), db, subjects=subjects, seed=seed)


def synth_cmd(program: Annotated[str, typer.Option(
                  "--program", help="Shipped rulebook name or a rulebook YAML file.")],
              subjects: Annotated[int, typer.Option("--subjects",
                                                    help="Size of the population.")] = 1000,
              months: Annotated[int, typer.Option("--months",
                                                  help="Months of history.")] = 24,
              seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
              out_file: Annotated[Path | None, typer.Option(
                  "--out", help="Output file (.csv or .jsonl); default <program>-<n>.csv",
                  show_default=False)] = None,
              end: Annotated[str | None, typer.Option(
                  "--end", help="Last day of the history (default 2026-10-31).",
                  show_default=False)] = None) -> None:
    """Write a realistic synthetic ledger file for a rulebook (deterministic per seed)."""
    from socialcredit.cli.options import instant, say
    from socialcredit.lab.synth import synthesize_to_file

    path = out_file or Path(f"{Path(program).stem}-{subjects}.csv")
    stats = synthesize_to_file(program, path, subjects=subjects, months=months, seed=seed,
                               end=instant(end, "--end"))
    say(f"wrote {stats.records} records about {stats.subjects} subjects (of {subjects}; "
        f"the rest have no records) to {path}")
    say(f"districts (for the policy lab): {stats.groups_file}")
    say(f"providers to register: {', '.join(f'{p} ({r})' for p, r in stats.providers)}")
