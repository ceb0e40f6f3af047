"""Bar charts as inline SVG, for the election's report (``audit report``): no script, no font.

Pure: a chart is built from hours and counts and returned as SVG markup whose every
text is escaped.  One bar per hour, the series stacked, a y axis with round ticks,
the days named under the x axis, a ``<title>`` (the chart's name) and a ``<desc>``
(its totals) for screen readers, and a ``<title>`` on each bar segment.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

WIDTH, HEIGHT = 960, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 44
MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


@dataclass(frozen=True)
class Series:
    label: str
    color: str
    counts: tuple[int, ...]  # one per hour of the chart

    @property
    def total(self) -> int:
        return sum(self.counts)


def number(n: int | float) -> str:
    """``12 345``: French grouping with a narrow no-break space."""
    return f"{int(n):,}".replace(",", "\u202f")


def day_label(moment: dt.datetime) -> str:
    return f"{moment.day} {MONTHS[moment.month - 1]}"


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10ⁿ at least ``value`` (the top of the y axis)."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def bar_chart(chart_id: str, title: str, hours: list[dt.datetime], series: list[Series]) -> str:
    """An SVG stacked bar chart of ``series`` (each one count per hour of ``hours``)."""
    n = max(len(hours), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    stacked = [sum(s.counts[i] for s in series) for i in range(len(hours))]
    top = nice_ceiling(max(stacked, default=0))
    bar_w = plot_w / n
    desc = "; ".join(f"{s.label} : {number(s.total)}" for s in series) or "aucune donnée"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-labelledby="{_e(chart_id)}-t {_e(chart_id)}-d" class="chart">',
             f'<title id="{_e(chart_id)}-t">{_e(title)}</title>',
             f'<desc id="{_e(chart_id)}-d">Totaux sur la période : {_e(desc)}.</desc>']
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = TOP + plot_h * (1 - fraction)
        value = top * fraction
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>')
        # Only whole numbers on the axis (a top of 1 or 2 has no quarter ticks worth a label).
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" class="tick" text-anchor="end">'
                     f'{_e(number(value)) if value.is_integer() else ""}</text>')
    for i, hour in enumerate(hours):
        x = LEFT + i * bar_w
        base: float = TOP + plot_h
        for s in series:
            count = s.counts[i]
            if not count:
                continue
            h = plot_h * count / top
            base -= h
            label = f"{hour:%d/%m %Hh} — {s.label} : {number(count)}"
            parts.append(f'<rect x="{x:.2f}" y="{base:.2f}" width="{max(bar_w - 0.5, 0.5):.2f}" height="{h:.2f}" '
                         f'fill="{_e(s.color)}"><title>{_e(label)}</title></rect>')
        if hour.hour == 0 or i == 0:
            parts.append(f'<line x1="{x:.2f}" y1="{TOP + plot_h}" x2="{x:.2f}" y2="{TOP + plot_h + 6}" class="axis"/>')
            parts.append(f'<text x="{x + 2:.2f}" y="{TOP + plot_h + 20}" class="tick">{_e(day_label(hour))}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" class="axis"/>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 6}" class="tick">Heure locale, une barre par heure</text>')
    parts.append("</svg>")
    return "".join(parts)


def funnel_chart(chart_id: str, title: str, steps: list[tuple[str, int]], color: str = "#000091") -> str:
    """Horizontal bars, one per step of the funnel, each with its count and its share of the first."""
    row_h, label_w, bar_w = 40, 330, WIDTH - 330 - 140
    height = row_h * len(steps) + 12
    first = steps[0][1] if steps else 0
    desc = "; ".join(f"{label} : {number(count)}" for label, count in steps)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" role="img" '
             f'aria-labelledby="{_e(chart_id)}-t {_e(chart_id)}-d" class="chart">',
             f'<title id="{_e(chart_id)}-t">{_e(title)}</title>',
             f'<desc id="{_e(chart_id)}-d">{_e(desc)}.</desc>']
    for i, (label, count) in enumerate(steps):
        y = 6 + i * row_h
        w = bar_w * count / first if first else 0
        share = f" ({round(100 * count / first)} %)" if first and i else ""
        parts.append(f'<text x="{label_w - 10}" y="{y + 24}" class="label" text-anchor="end">{_e(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 6}" width="{max(w, 1):.1f}" height="{row_h - 12}" '
                     f'fill="{_e(color)}"/>')
        parts.append(f'<text x="{label_w + max(w, 1) + 8:.1f}" y="{y + 24}" class="label">'
                     f'{_e(number(count) + share)}</text>')
    parts.append("</svg>")
    return "".join(parts)
