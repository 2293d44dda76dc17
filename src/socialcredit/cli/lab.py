"""The policy lab's commands: `lab run`, `lab compare`, and `diff-impact` on the ledger.

Heavy imports (NumPy, Arrow, matplotlib, Fairlearn) happen inside the commands, so
mounting them costs the command line nothing at start-up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from socialcredit.cli.options import DbOpt, emit_json, instant, open_service, out

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="The policy lab: simulate a society under a rulebook, before it "
                       "happens.")
ScenarioOpt = Annotated[str, typer.Option(
    "--scenario", help="A scenario YAML file or a shipped scenario's name (baseline, "
                       "poverty-feedback, predictive-policing, errors-and-objections).")]
PopulationOpt = Annotated[int | None, typer.Option(
    "--population", min=1, help="Subjects (default: the scenario's).")]
MonthsOpt = Annotated[int | None, typer.Option(
    "--months", min=1, help="Simulated months (default: the scenario's).")]
StudyOpt = Annotated[bool, typer.Option(
    "--study", help="Simulate a rulebook the engine refuses, for study: every page of the "
                    "report says that the engine will not operate it.")]
ToleranceOpt = Annotated[float, typer.Option(
    "--score-tolerance", min=0.0, help="Largest error allowed in reported scores from not "
                                       "rescoring a subject whose score only decayed; tiers, "
                                       "lists and decisions are always exact.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]


def _banner(banner: dict[str, Any] | None) -> None:
    if banner:
        out().print(f"[bold white on red] {banner['banner']} [/] {banner['explanation']}")


@app.command("run")
def run_cmd(
    rulebook: Annotated[str, typer.Option("--rulebook", help="A rulebook file or a shipped "
                                          "rulebook's name.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for report.json and "
                                          "index.html.")],
    scenario: ScenarioOpt = "baseline",
    population: PopulationOpt = None,
    months: MonthsOpt = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (default: the "
                                             "scenario's).")] = None,
    study: StudyOpt = False,
    tolerance: ToleranceOpt = 1.0,
    records: Annotated[Path | None, typer.Option(
        "--records", help="Also write every simulated record (true and false, payments, "
                          "voids) to this Parquet file, in the ledger's record schema.")]
    = None,
    json_: JsonOpt = False,
) -> None:
    """Simulate one rulebook on a scenario's society and write a report."""
    from socialcredit.lab.api import run
    from socialcredit.lab.simulate import LabOptions

    result = run(rulebook, scenario, population=population, months=months, seed=seed,
                 study=study, options=LabOptions(
                     tolerance=tolerance, records_out=None if records is None else str(records)))
    page = result.write(out_dir)
    if json_:
        emit_json({"report": str(page), "json": str(out_dir / "report.json"),
               "study_only": result.data["study_only"], "findings": result.data["findings"]})
        return
    _banner(result.data["study_only"])
    for f in result.data["findings"]:
        out().print(f"• {f}", markup=False, highlight=False)
    out().print(f"report: {page} (and {out_dir / 'report.json'})")


@app.command("compare")
def compare_cmd(
    rulebooks: Annotated[list[str], typer.Argument(help="Two or more rulebooks (files or "
                                                   "shipped names); the first is the "
                                                   "baseline of the differences.")],
    scenario: ScenarioOpt = "baseline",
    population: PopulationOpt = None,
    months: MonthsOpt = None,
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Independent societies "
                                       "(seeds) for the confidence intervals.")] = 3,
    seed: Annotated[int | None, typer.Option("--seed", help="First seed (default: the "
                                             "scenario's).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Also write report.json "
                                                 "and index.html here.")] = None,
    study: StudyOpt = False,
    tolerance: ToleranceOpt = 1.0,
    json_: JsonOpt = False,
) -> None:
    """Compare rulebooks on the same society (common random numbers), side by side, with
    differences and 95% confidence intervals across seeds."""
    from socialcredit.lab.api import compare
    from socialcredit.lab.report import num
    from socialcredit.lab.scenario import load_scenario
    from socialcredit.lab.simulate import LabOptions

    sc = load_scenario(scenario)
    first = sc.seed if seed is None else seed
    result = compare(rulebooks, sc, population=population, months=months,
                     seeds=list(range(first, first + seeds)), study=study,
                     options=LabOptions(tolerance=tolerance))
    page = result.write(out_dir) if out_dir is not None else None
    if json_:
        emit_json({**result.data, "report": None if page is None else str(page)})
        return
    for banner in (result.data["study_only"] or {}).values():
        _banner(banner)
    from rich.table import Table
    names = list(result.data["rulebooks"])
    table = Table(title=f"{result.data['scenario']['id']}: means [95% CI] over seeds "
                        f"{', '.join(map(str, result.data['run']['seeds']))}")
    table.add_column("metric")
    for n in names:
        table.add_column(n, justify="right")
    for n in names[1:]:
        table.add_column(f"{n} − {names[0]}", justify="right")

    def cell(v: dict[str, Any]) -> str:
        if v["mean"] is None:
            return "n/a"
        ci = v["ci95"]
        return num(v["mean"]) + (f" [{num(ci[0])}, {num(ci[1])}]" if ci else "")

    for row in result.data["metrics"]:
        table.add_row(row["metric"], *[cell(row["rulebooks"][n]) for n in names],
                      *[cell(row["differences"][n]) for n in names[1:]])
    out().print(table)
    for f in result.data["findings"]:
        out().print(f"• {f}", markup=False, highlight=False)
    if page is not None:
        out().print(f"report: {page}")


def diff_impact_cmd(
    v1: Annotated[str, typer.Argument(help="The version in force: program@version, a "
                                      "program id, a rulebook file or a shipped name.")],
    v2: Annotated[str, typer.Argument(help="The version that would replace it (same "
                                      "forms).")],
    db: DbOpt = None,
    at: Annotated[str | None, typer.Option("--at", help="Valid time t (ISO 8601 with a "
                                           "zone, or a date); default now.")] = None,
    examples: Annotated[int, typer.Option("--examples", min=0, help="How many changed "
                                          "subjects to show (largest score change "
                                          "first).")] = 10,
    study: StudyOpt = False,
    json_: JsonOpt = False,
) -> None:
    """Who changes tier, list or decision today if V2 replaces V1 (batch engine on the
    ledger)."""

    def go() -> None:
        from rich.table import Table

        with open_service(db) as svc:
            rep = svc.impact.diff(v1, v2, at=instant(at, "--at"), examples=examples,
                                  study=study)
        d = rep.as_dict()
        if json_:
            emit_json(d)
            return
        _banner(d["study_only"])
        t = d["tier"]
        out().print(f"{d['v1']['spec']} → {d['v2']['spec']} at {d['at']}: {d['changed']:,} of "
                  f"{d['subjects']:,} subjects change tier, list or decision; "
                  f"{t['changed']:,} change tier"
                  + (f" ({t['up']:,} up, {t['down']:,} down)" if t["up"] is not None else "")
                  + f"; mean score change {d['score_change_mean']:+.2f}.")
        if t["v1_tiers"]:
            tab = Table(title="tier under V1 (rows) → under V2 (columns)")
            tab.add_column("V1 \\ V2")
            for c in t["v2_tiers"]:
                tab.add_column(c, justify="right")
            for r, row in zip(t["v1_tiers"], t["transitions"], strict=True):
                tab.add_row(r, *[f"{x:,}" for x in row])
            out().print(tab)
        if d["lists"]:
            tab = Table(title="lists")
            for c in ("list", "on under V1", "on under V2", "entered", "left"):
                tab.add_column(c, justify="left" if c == "list" else "right")
            for x, v in d["lists"].items():
                tab.add_row(x, f"{v['v1']:,}", f"{v['v2']:,}", f"{v['entered']:,}",
                            f"{v['left']:,}")
            out().print(tab)
        moved = {a: v for a, v in d["decisions"].items() if v["changed"]}
        if moved:
            tab = Table(title="decisions that change")
            tab.add_column("action")
            tab.add_column("changed", justify="right")
            tab.add_column("how")
            for a, v in moved.items():
                how = ", ".join(f"{k} {n:,}" for k, n in v.items() if k != "changed" and n)
                tab.add_row(a, f"{v['changed']:,}", how)
            out().print(tab)
        if d["examples"]:
            tab = Table(title="examples (largest score change first)")
            for c in ("subject", "score V1", "score V2", "tier V1", "tier V2", "lists V1",
                      "lists V2"):
                tab.add_column(c)
            for e in d["examples"]:
                tab.add_row(e["subject"], f"{e['score_v1']:.1f}", f"{e['score_v2']:.1f}",
                            e["tier_v1"], e["tier_v2"], ", ".join(e["lists_v1"]) or "-",
                            ", ".join(e["lists_v2"]) or "-")
            out().print(tab)

    go()


__all__ = ["app", "diff_impact_cmd"]
