"""Readable output for people: a standing explained, a decision with its reasons."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from socialcredit.decisions.evaluate import Decision
from socialcredit.scoring.standing import Standing
from socialcredit.timeutil import format_instant


def render_standing(out: Console, st: Standing) -> None:
    rb = st.rulebook
    head = (f"[bold]{st.subject}[/] ({st.subject_kind or 'unknown'}) under "
            f"[bold]{rb.id}[/] {rb.version} at {format_instant(st.at)}")
    if st.known_at != st.at:
        head += f", as known at {format_instant(st.known_at)}"
    if st.projection:
        head += " [yellow](projection: nothing more recorded)[/]"
    out.print(head)
    out.print(f"score [bold]{st.score:.2f}[/]  tier [bold]{st.tier or '-'}[/]  lists "
              f"{', '.join(st.lists) or 'none'}")
    dims = Table("dimension", "score", title="Dimensions")
    for d, v in st.dimensions.items():
        dims.add_row(d, f"{v:.4f}")
    out.print(dims)
    if st.contributions:
        t = Table("record", "type", "dimension", "age (d)", "points", "contribution",
                  title="Every counting record")
        for c in sorted(st.contributions, key=lambda c: c.contribution):
            t.add_row(c.record_id, c.type + (" (resolved)" if c.resolved else ""), c.dimension,
                      f"{c.age_days:.1f}", f"{c.points:g}", f"{c.contribution:.4f}")
        out.print(t)
    if st.attributes:
        t = Table("fact", "record", "value", "bin", "points", title="Attributes")
        for a in st.attributes:
            t.add_row(a.record, a.record_id or "(missing)", str(a.value), str(a.bin),
                      f"{a.points:g}")
        out.print(t)
    if st.key_factors:
        out.print("Key factors: " + "; ".join(
            f"{c.label or c.type} ({c.contribution:.2f}, {c.record_id})" for c in st.key_factors))
    for e in st.list_entries:
        out.print(f"[red]on list {e.list}[/] since {format_instant(e.start)} until "
                  f"{format_instant(e.end) or 'resolved'} because of {e.record_id or 'score'}")
    for e in st.pending:
        out.print(f"[yellow]notice:[/] list {e.list} takes effect {format_instant(e.start)} "
                  f"unless the record {e.record_id or ''} is resolved or successfully contested")
    for n in st.notes:
        out.print(f"[dim]note: {n}[/]")
    out.print(f"[dim]rulebook sha256 {rb.sha256}[/]")


def render_decision(out: Console, d: Decision) -> None:
    colour = {"deny": "red", "benefit": "green", "allow": "cyan"}[d.effect]
    out.print(f"[bold {colour}]{d.effect.upper()}[/] {d.action} for {d.subject} "
              f"({d.program} {d.standing.rulebook.version}, score {d.standing.score:.2f}, "
              f"tier {d.standing.tier or '-'})")
    if d.grant:
        out.print(f"grant: {d.grant}")
    for r in d.reasons:
        mark = "✔" if r["applies"] else "·"
        conds = ", ".join(f"{c['condition']}={c['value']} "
                          f"({'yes' if c['holds'] else 'no'})" for c in r["conditions"])
        head = (f"consequence {r['consequence']}: {r['effect']}"
                if r["consequence"] is not None else "no consequence")
        out.print(f" {mark} {head}"
                  + (f" when {conds}" if conds else "")
                  + (f" — {r['label']}" if r.get("label") else ""), markup=False)
    if d.hypothetical:
        out.print(f"[yellow]hypothetical:[/] decided for {format_instant(d.at)}, not for now")
    out.print(f"[dim]decision {d.decision_id}; rulebook sha256 "
              f"{d.standing.rulebook.sha256}[/]")
