"""Charts as server-rendered SVG: no JavaScript, no plotting library, readable by a
screen reader (each chart has a title and a description, and the page beside it gives
the same figures as a table).

Colours are chosen for contrast on white (WCAG AA for text) and the projected part of a
timeline is dashed, not only lighter, so it does not rest on colour alone.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

INK = "#1a1a1a"
GRID = "#767676"
LINE = "#0b4f9c"
BAND_FILLS = ("#e8f1fb", "#f5f5f5", "#fdf3e6", "#f9e9e9", "#eef7ee")
PERIOD = "#b3261e"


@dataclass(frozen=True)
class Period:
    label: str
    start: int
    end: int | None  # None: no end in sight (drawn to the right edge)


def _esc(text: str) -> str:
    return escape(text, quote=True)


def _opening(w: int, h: int, chart_id: str, title: str, desc: str) -> list[str]:
    """A chart's <svg> with its title and description, which screen readers announce."""
    return [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" '
            f'aria-labelledby="{chart_id}-t {chart_id}-d" class="chart">',
            f'<title id="{chart_id}-t">{_esc(title)}</title>',
            f'<desc id="{chart_id}-d">{_esc(desc)}</desc>']


def timeline(points: Sequence[tuple[int, float]], now: int, *,
             tiers: Sequence[tuple[str, float]], low: float, high: float,
             periods: Sequence[Period], title: str, desc: str, now_label: str,
             tier_label: Callable[[str], str], tick: Callable[[int], str],
             value: Callable[[float], str], chart_id: str = "chart") -> str:
    """Score over time: tier bands behind, list periods as shaded spans, the line solid
    up to now and dashed after (a projection)."""
    w, h, left, right, top, bottom = 760, 300, 60, 20, 20, 50
    pw, ph = w - left - right, h - top - bottom
    if not points:
        points = [(now, low)]
    t0 = min(p[0] for p in points)
    t1 = max(p[0] for p in points)
    if t1 <= t0:
        t1 = t0 + 1
    lo, hi = low, high
    if hi <= lo:
        hi = lo + 1

    def x(t: int) -> float:
        return left + (min(max(t, t0), t1) - t0) / (t1 - t0) * pw

    def y(v: float) -> float:
        return top + (1 - (min(max(v, lo), hi) - lo) / (hi - lo)) * ph

    out = _opening(w, h, chart_id, title, desc)
    ordered = sorted(tiers, key=lambda t: t[1])
    for i, (name, floor) in enumerate(ordered):
        ceiling = ordered[i + 1][1] if i + 1 < len(ordered) else hi
        if ceiling <= lo or floor >= hi:
            continue
        y_top, y_bottom = y(ceiling), y(max(floor, lo))
        out.append(f'<rect x="{left}" y="{y_top:.1f}" width="{pw}" '
                   f'height="{max(0.0, y_bottom - y_top):.1f}" '
                   f'fill="{BAND_FILLS[i % len(BAND_FILLS)]}"/>')
        out.append(f'<text x="{left + pw - 4}" y="{y_top + 14:.1f}" text-anchor="end" '
                   f'font-size="12" fill="{INK}">{_esc(tier_label(name))}</text>')
    for p in periods:
        x0, x1 = x(p.start), x(p.end if p.end is not None else t1)
        if x1 <= x0:
            continue
        out.append(f'<rect x="{x0:.1f}" y="{top}" width="{x1 - x0:.1f}" height="{ph}" '
                   f'fill="{PERIOD}" fill-opacity="0.12" stroke="{PERIOD}" '
                   f'stroke-dasharray="2 2"/>')
        out.append(f'<text x="{x0 + 3:.1f}" y="{top + ph - 6}" font-size="11" '
                   f'fill="{PERIOD}">{_esc(p.label)}</text>')
    # axes and ticks
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" '
               f'stroke="{GRID}"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="{GRID}"/>')
    for i in range(5):
        v = lo + (hi - lo) * i / 4
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
                   f'font-size="11" fill="{INK}">{_esc(value(v))}</text>')
    for i in range(5):
        t = t0 + (t1 - t0) * i // 4
        out.append(f'<text x="{x(t):.1f}" y="{top + ph + 18}" text-anchor="middle" '
                   f'font-size="11" fill="{INK}">{_esc(tick(t))}</text>')
    past = [(t, v) for t, v in points if t <= now]
    future = [(t, v) for t, v in points if t >= now]
    if past and future and past[-1] != future[0]:
        future.insert(0, past[-1])
    for seq, dash in ((past, ""), (future, ' stroke-dasharray="6 4"')):
        if len(seq) >= 2:
            d = " ".join(f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}"
                         for i, (t, v) in enumerate(seq))
            out.append(f'<path d="{d}" fill="none" stroke="{LINE}" stroke-width="2.5"{dash}/>')
    if t0 <= now <= t1:
        out.append(f'<line x1="{x(now):.1f}" y1="{top}" x2="{x(now):.1f}" y2="{top + ph}" '
                   f'stroke="{INK}" stroke-dasharray="1 3"/>')
        out.append(f'<text x="{x(now) + 3:.1f}" y="{top + 12}" font-size="11" '
                   f'fill="{INK}">{_esc(now_label)}</text>')
    out.append("</svg>")
    return "".join(out)


def bars(items: Sequence[tuple[str, float]], *, title: str, desc: str,
         value: Callable[[float], str], chart_id: str = "bars") -> str:
    """Horizontal bars, one per item, with the value written at the bar's end."""
    row, left, w = 26, 160, 640
    h = max(1, len(items)) * row + 10
    top = max([v for _, v in items] + [1.0])
    out = _opening(w, h, chart_id, title, desc)
    for i, (label, v) in enumerate(items):
        y = 5 + i * row
        width = (w - left - 70) * (v / top)
        out.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end" font-size="12" '
                   f'fill="{INK}">{_esc(label)}</text>')
        out.append(f'<rect x="{left}" y="{y + 3}" width="{width:.1f}" height="{row - 8}" '
                   f'fill="{LINE}"/>')
        out.append(f'<text x="{left + width + 4:.1f}" y="{y + 16}" font-size="12" '
                   f'fill="{INK}">{_esc(value(v))}</text>')
    out.append("</svg>")
    return "".join(out)


def steps(points: Sequence[tuple[int, float]], *, title: str, desc: str,
          tick: Callable[[int], str], value: Callable[[float], str],
          chart_id: str = "steps") -> str:
    """A count over time as a step line (e.g. listings in force)."""
    w, h, left, right, top, bottom = 760, 220, 60, 20, 15, 40
    pw, ph = w - left - right, h - top - bottom
    out = _opening(w, h, chart_id, title, desc)
    if points:
        t0, t1 = points[0][0], max(points[-1][0], points[0][0] + 1)
        hi = max(max(v for _, v in points), 1.0)

        def x(t: int) -> float:
            return left + (t - t0) / (t1 - t0) * pw

        def y(v: float) -> float:
            return top + (1 - v / hi) * ph

        d = f"M{x(points[0][0]):.1f},{y(points[0][1]):.1f}"
        for (_, v0), (t, v) in itertools.pairwise(points):
            d += f" L{x(t):.1f},{y(v0):.1f} L{x(t):.1f},{y(v):.1f}"
        out.append(f'<path d="{d}" fill="none" stroke="{LINE}" stroke-width="2.5"/>')
        for i in range(3):
            v = hi * i / 2
            out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
                       f'font-size="11" fill="{INK}">{_esc(value(v))}</text>')
        for i in range(4):
            t = t0 + (t1 - t0) * i // 3
            out.append(f'<text x="{x(t):.1f}" y="{top + ph + 18}" text-anchor="middle" '
                       f'font-size="11" fill="{INK}">{_esc(tick(t))}</text>')
    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" '
               f'stroke="{GRID}"/>')
    out.append("</svg>")
    return "".join(out)


__all__ = ["Period", "bars", "steps", "timeline"]
