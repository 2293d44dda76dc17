"""Reports: JSON for machines, one HTML page for people, charts as inline SVG.

Charts are drawn by matplotlib on the server (the Agg backend, SVG output pasted into
the page), so a report is a single self-contained file that opens anywhere and keeps
no script. The summary states every finding in plain words *with its number*: a
reader who only reads the summary must not come away with a claim the numbers below
do not carry.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import Any

PAGE = "index.html"


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


# -- findings -------------------------------------------------------------------------------

def findings(data: dict[str, Any]) -> list[str]:
    s = data["summary"]
    run = data["run"]
    out: list[str] = []
    if data.get("study_only"):
        out.append(f"Study only: the engine will not operate {data['rulebook']['id']} "
                   f"({len(data['study_only']['violations'])} line(s) crossed).")
    li, u = s["listed"], s["underclass"]
    out.append(f"After {run['months']} months, {pct(li['final_share'], 2)} of "
               f"{run['population']:,} subjects were on a blacklist "
               f"({li['final_count']:,} subjects).")
    if u["ever_listed"]:
        red = u["redemption_median_months"]
        after = (f"{num(red, 0)} months" if red is not None
                 else "more months than the run lasted")
        out.append(
            f"{pct(u['share_listed_half_of_window'], 2)} were listed at least half of the "
            f"last {u['window_months']} months (the underclass: {u['subjects']:,} subjects); "
            f"{u['ever_listed']:,} were listed at some point, for a median of "
            f"{num(u['median_months_listed'], 0)} months; half of all listing spells had "
            f"ended after {after} ({u['spells']:,} spells, "
            f"{u['spells_still_running']:,} still running).")
    else:
        out.append("Nobody was ever listed.")
    tiers = s["tiers"]["final_share"]
    if tiers:
        out.append("Tiers at the end: " + ", ".join(f"{k} {pct(v)}" for k, v in tiers.items())
                   + ".")
    if s["gini"]["final"] is not None:
        out.append(f"Inequality of scores: Gini {num(s['gini']['final'])} (0 = everyone "
                   "equal, 1 = one subject has everything).")
    mo = data["monthly"]
    groups = [g["id"] for g in data["scenario"]["parameters"]["groups"]]
    districts = [d["id"] for d in data["scenario"]["parameters"]["districts"]]
    for what, names, key in (("group", groups, "mean_score_by_group"),
                             ("district", districts, "mean_score_by_district")):
        if len(names) > 1 and s["gini"]["final"] is not None:
            out.append(f"Mean score at the end by {what}: " + ", ".join(
                f"{g} {num(v, 1)}" for g, v in zip(names, mo[key][-1], strict=True)) + ".")
    mob = s["mobility"]
    if mob.get("tiers") and mob["bottom_entries"]:
        out.append(f"Of {mob['bottom_entries']:,} entries into the bottom tier "
                   f"({mob['bottom_tier']}), {pct(mob['leave_bottom_12m_share'])} left it "
                   "within 12 months.")
    for feat, outcomes in s["disparate_impact"].items():
        for name, d in outcomes.items():
            rates = {g: v["selection_rate"] for g, v in d["by_group"].items()}
            if not any(rates.values()):
                continue
            what = "blacklisted" if name == "listed" else f"would be denied {name.split(':', 1)[1]}"
            parts = ", ".join(f"{g} {pct(r, 2)}" for g, r in rates.items())
            ff = d["four_fifths_min_ratio"]
            verdict = ("fails the four-fifths rule for " + ", ".join(d["four_fifths_fails"])
                       if d["four_fifths_fails"] else "passes the four-fifths rule")
            out.append(
                f"By {feat}, share {what}: {parts}; the favourable-rate ratio is "
                f"{num(ff)} ({verdict}); demographic parity difference "
                f"{num(d['demographic_parity_difference'])}, equalized odds difference "
                f"{num(d['equalized_odds_difference'])}.")
    e = s["errors"]
    if e["false_records"]:
        out.append(
            f"Providers made {e['false_records']:,} false records; {e['objections']:,} were "
            f"objected to and reviewers voided {e['voided_by_review']:,}. "
            f"{e['subjects_ever_wrongly_listed']:,} subjects were wrongly listed at some "
            f"point ({e['wrongly_listed_at_end']:,} at the end); objections prevented "
            f"{e['wrongful_listings_prevented_by_objection']:,} wrongful listings before "
            f"they took effect and ended {e['wrongful_listings_ended_by_objection']:,}; "
            f"{e['denials_caused_by_false_records']:,} requests were denied because of "
            "false records.")
    n = s["notice"]
    if n["payments"] or n["score_list_notices"]:
        out.append(
            f"Notice: {n['sanctions_avoided_by_payment']:,} listings were avoided by payment "
            f"within the notice period and {n['listings_ended_by_payment']:,} ended early by "
            f"payment ({n['payments']:,} payments in all)"
            + (f"; {n['score_list_notices']:,} score-list notices were issued, of which "
               f"{n['score_list_notices_ended_without_sanction']:,} ended without a sanction "
               f"({n['score_list_notices_ended_after_payment']:,} after a payment)"
               if n["score_list_notices"] else "") + ".")
    for a, d in s["decisions"].items():
        if d["denied"] or d["would_be_denied_at_end"] or d["would_benefit_at_end"]:
            out.append(f"{a}: {d['denied']:,} of {d['requests']:,} requests denied "
                       f"({pct(d['denied_share_of_requests'], 2)}); at the end "
                       f"{pct(d['would_be_denied_at_end'], 2)} of subjects would be denied and "
                       f"{pct(d['would_benefit_at_end'], 2)} would get a benefit.")
    m = s["means"]
    if m["dropped"]:
        out.append(f"Feedback: {m['dropped']:,} income-band drops followed denials; mean "
                   "income band by group went from "
                   + ", ".join(f"{g} {num(a, 2)} to {num(b, 2)}" for g, a, b in zip(
                       groups, m["by_group_start"], m["by_group_end"], strict=True))
                   + " (0 = lowest band).")
    p = s["patrols"]
    if data["scenario"]["parameters"]["detection"].get("patrols"):
        out.append("Patrols: allocation by district went from "
                   + ", ".join(f"{d} {pct(a)}" for d, a in zip(p["districts"], p["start"],
                                                                strict=True))
                   + " to " + ", ".join(f"{d} {pct(a)}" for d, a in zip(
                       p["districts"], p["end"], strict=True))
                   + (f"; records per head diverged by {num(p['divergence'], 2)} "
                      "((max − min) ÷ mean over the last 12 months)"
                      if p["divergence"] is not None else
                      "; the rulebook reads none of the patrolled records") + ".")
    return out


def compare_findings(data: dict[str, Any]) -> list[str]:
    out: list[str] = []
    seeds = data["run"]["seeds"]
    names = list(data["rulebooks"])
    base = names[0]
    out.append(f"{len(names)} rulebooks on the same society ({data['run']['population']:,} "
               f"subjects, {data['run']['months']} months, {len(seeds)} seed(s), common "
               "random numbers); differences are against " + base + " with 95% confidence "
               "intervals over seeds.")
    if data.get("study_only"):
        out.append("Study only: the engine will not operate "
                   + ", ".join(sorted(data["study_only"])) + ".")
    for row in data["metrics"]:
        for name, d in row["differences"].items():
            ci = d["ci95"]
            if d["mean"] is None or ci is None:
                continue
            if ci[0] > 0 or ci[1] < 0:
                out.append(
                    f"{row['metric']}: {name} {num(row['rulebooks'][name]['mean'])} vs {base} "
                    f"{num(row['rulebooks'][base]['mean'])} (difference {num(d['mean'])}, 95% "
                    f"CI {num(ci[0])} to {num(ci[1])}).")
    if len(out) == (2 if data.get("study_only") else 1):
        out.append("No difference is distinguishable from zero at 95% confidence.")
    return out


# -- charts ---------------------------------------------------------------------------------

def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "socialcredit-lab", "figure.figsize": (7.5, 3.2),
                         "axes.spines.top": False, "axes.spines.right": False,
                         "font.size": 9})
    return plt


def run_charts(data: dict[str, Any]) -> list[tuple[str, str]]:
    plt = _plt()
    mo, s = data["monthly"], data["summary"]
    x = list(range(1, len(mo["listed_share"]) + 1))
    charts: list[tuple[str, str]] = []
    params = data["scenario"]["parameters"]
    groups = [g["id"] for g in params["groups"]]
    districts = [d["id"] for d in params["districts"]]
    names = s["tiers"]["names"]
    if len(names) > 1:
        fig, ax = plt.subplots()
        n = data["run"]["population"]
        shares = [[row[i] / n for row in mo["tier_counts"]] for i in range(len(names))]
        keep = [i for i in range(len(names)) if any(shares[i])]
        ax.stackplot(x, *[shares[i] for i in keep], labels=[names[i] for i in keep])
        ax.set(xlabel="month", ylabel="share of subjects", ylim=(0, 1))
        ax.legend(loc="center left", bbox_to_anchor=(1, 0.5), frameon=False)
        charts.append(("Tier distribution, month by month", _svg(fig)))
    if s["underclass"]["ever_listed"]:
        charts.append(_listed_chart(plt, x, mo, groups, districts))
    if any(v is not None for v in mo["gini"]):
        fig, ax = plt.subplots()
        ax.plot(x, [v if v is not None else float("nan") for v in mo["gini"]])
        ax.set(xlabel="month", ylabel="Gini of scores")
        charts.append(("Inequality of scores (Gini)", _svg(fig)))
    actions = [k.split(":", 1)[1] for k in mo if k.startswith("deny_rate:")
               and any(mo[k])]
    if actions:
        fig, ax = plt.subplots()
        for a in actions:
            ax.plot(x, mo[f"deny_rate:{a}"], label=a)
        ax.set(xlabel="month", ylabel="share who would be denied")
        ax.legend(frameon=False, loc="center left", bbox_to_anchor=(1, 0.5))
        charts.append(("Denials by action (every subject evaluated each month)", _svg(fig)))
    if params["detection"].get("patrols"):
        fig, axes = plt.subplots(1, 2)
        for i, d in enumerate(districts):
            axes[0].plot(x, [row[i] for row in mo["patrol_allocation"]], label=d)
            axes[1].plot(x, [row[i] for row in mo["records_by_district"]], label=d)
        axes[0].set(title="patrol allocation", xlabel="month", ylim=(0, 1))
        axes[1].set(title="patrolled records", xlabel="month")
        axes[0].legend(frameon=False)
        charts.append(("Patrols follow records (Ensign et al. 2018)", _svg(fig)))
    mob = s["mobility"]
    if mob.get("transitions_last_12_months"):
        import numpy as np

        mat = np.array(mob["transitions_last_12_months"], float)
        rows = mat.sum(axis=1, keepdims=True)
        share = np.divide(mat, rows, out=np.zeros_like(mat), where=rows > 0)
        keep = [i for i in range(len(mat)) if mat[i].sum() or mat[:, i].sum()]
        fig, ax = plt.subplots(figsize=(4.5, 3.6))
        im = ax.imshow(share[np.ix_(keep, keep)], cmap="Blues", vmin=0, vmax=1)
        labels = [mob["tiers"][i] for i in keep]
        ax.set_xticks(range(len(keep)), labels)
        ax.set_yticks(range(len(keep)), labels)
        ax.set(xlabel="tier 12 months later", ylabel="tier")
        for a in range(len(keep)):
            for b in range(len(keep)):
                ax.text(b, a, f"{share[keep[a], keep[b]]:.2f}", ha="center", va="center",
                        fontsize=7)
        fig.colorbar(im, ax=ax)
        charts.append(("Tier mobility over the last 12 months (row shares)", _svg(fig)))
    if s["means"]["dropped"]:
        fig, ax = plt.subplots()
        for i, g in enumerate(groups):
            ax.plot(x, [row[i] for row in mo["means_by_group"]], label=g)
        ax.set(xlabel="month", ylabel="mean income band (0 = lowest)")
        ax.legend(frameon=False)
        charts.append(("Means under feedback", _svg(fig)))
    return charts


def _listed_chart(plt: Any, x: list[int], mo: dict[str, Any], groups: list[str],
                  districts: list[str]) -> tuple[str, str]:
    fig, axes = plt.subplots(1, 2, sharey=True)
    for ax, key, labels, title in (
            (axes[0], "listed_by_group", groups, "by group"),
            (axes[1], "listed_by_district", districts, "by district")):
        for i, g in enumerate(labels):
            ax.plot(x, [row[i] for row in mo[key]], label=g)
        ax.set(title=title, xlabel="month")
        ax.legend(frameon=False)
    axes[0].set_ylabel("share on a blacklist")
    return ("Blacklisted share by group and by district", _svg(fig))


def compare_charts(data: dict[str, Any]) -> list[tuple[str, str]]:
    plt = _plt()
    charts = []
    for key, title, ylabel in (("listed_share", "Blacklisted share (mean over seeds)",
                                "share on a blacklist"),
                               ("gini", "Gini of scores (mean over seeds)", "Gini"),
                               ("mean_score", "Mean score (mean over seeds)", "score")):
        series = {k: v[key] for k, v in data["monthly_mean"].items()}
        if not any(x is not None for v in series.values() for x in v):
            continue
        fig, ax = plt.subplots()
        for name, v in series.items():
            ax.plot(range(1, len(v) + 1), [x if x is not None else float("nan") for x in v],
                    label=name)
        ax.set(xlabel="month", ylabel=ylabel)
        ax.legend(frameon=False)
        charts.append((title, _svg(fig)))
    return charts


# -- pages ----------------------------------------------------------------------------------

def _env() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("socialcredit.lab", "templates"),
                      autoescape=select_autoescape(["html"]), trim_blocks=True,
                      lstrip_blocks=True)
    env.filters["pct"] = pct
    env.filters["num"] = num
    return env


def render_run(data: dict[str, Any]) -> str:
    return str(_env().get_template("run.html").render(d=data, charts=run_charts(data)))


def render_compare(data: dict[str, Any]) -> str:
    return str(_env().get_template("compare.html").render(d=data, charts=compare_charts(data)))


def finite_json(obj: Any) -> Any:
    """The data with every NaN or infinity replaced by null: JSON has no such numbers,
    and a reader should see "not defined", not a parse error."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    return obj


def _write(data: dict[str, Any], out: Path, html: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(finite_json(data), indent=1, ensure_ascii=False, allow_nan=False)
    (out / "report.json").write_text(text + "\n", encoding="utf-8")
    (out / PAGE).write_text(html, encoding="utf-8")
    return out / PAGE


def write_run(data: dict[str, Any], out: Path) -> Path:
    return _write(data, out, render_run(data))


def write_compare(data: dict[str, Any], out: Path) -> Path:
    return _write(data, out, render_compare(data))


__all__ = ["compare_findings", "findings", "render_compare", "render_run", "write_compare",
           "write_run"]
