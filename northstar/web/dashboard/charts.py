"""Inline SVG charts drawn on the server: they render offline, with no script and no CDN.

Each function takes plain numbers (already in the results document) and returns an SVG
element as text; every label is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from experiments.result_document import LiftPointDocument

__all__ = ["ForestRow", "forest_chart", "lift_chart", "exposure_chart", "PALETTE"]

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2")
_VERDICT_COLOURS = {"win": "#16a34a", "loss": "#dc2626", "inconclusive": "#64748b", "suppressed": "#94a3b8"}
_FONT = "font-family='system-ui, sans-serif' font-size='12' fill='#334155'"


@dataclass(frozen=True)
class ForestRow:
    """One (metric, variant) row of the forest chart: relative lift, its interval (None: not finite) and the
    verdict colouring it."""

    label: str
    estimate: float | None
    low: float | None
    high: float | None
    verdict: str


def _span(values: Sequence[float | None], floor: float) -> float:
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    return max([floor, *finite]) * 1.1


def forest_chart(rows: Sequence[ForestRow], width: int = 1000) -> str:
    """Relative lift and interval per (metric, variant), around a zero line."""
    row_height, left, right = 30, 340, 30
    height = row_height * len(rows) + 40
    span = min(_span([v for r in rows for v in (r.estimate, r.low, r.high)], 0.02), 5.0)
    plot = width - left - right

    def x(value: float) -> float:
        return left + plot * (max(-span, min(span, value)) + span) / (2 * span)

    parts = [f"<line x1='{x(0):.1f}' y1='10' x2='{x(0):.1f}' y2='{height - 25}' stroke='#94a3b8' stroke-dasharray='4 3'/>"]
    for tick in (-span / 1.1, 0.0, span / 1.1):
        parts.append(f"<text x='{x(tick):.1f}' y='{height - 8}' text-anchor='middle' {_FONT}>{tick:+.1%}</text>")
    for index, row in enumerate(rows):
        y = 20 + index * row_height
        colour = _VERDICT_COLOURS.get(row.verdict, "#64748b")
        label = row.label if len(row.label) <= 48 else row.label[:47] + "…"
        parts.append(f"<text x='8' y='{y + 4}' {_FONT}>{escape(label)}</text>")
        if row.low is not None and row.high is not None:
            parts.append(f"<line x1='{x(row.low):.1f}' y1='{y}' x2='{x(row.high):.1f}' y2='{y}' "
                         f"stroke='{colour}' stroke-width='3' stroke-linecap='round'/>")
        if row.estimate is not None:
            parts.append(f"<circle cx='{x(row.estimate):.1f}' cy='{y}' r='5' fill='{colour}'/>")
    return _svg(width, height, "Relative lift with intervals", parts)


def lift_chart(days: Sequence[str], series: Mapping[str, Sequence[LiftPointDocument]], width: int = 640, height: int = 200) -> str:
    """Cumulative relative lift per day for each treatment, with its interval as a band."""
    left, right, top, bottom = 56, 16, 12, 28
    values = [v for points in series.values() for p in points
              for v in (p.relative_effect, *p.relative_ci)]
    span = min(_span(values, 0.02), 5.0)
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(days) - 1, 1)

    def x(index: int) -> float:
        return left + plot_w * index / count

    def y(value: float) -> float:
        return top + plot_h * (span - max(-span, min(span, value))) / (2 * span)

    parts = [f"<line x1='{left}' y1='{y(0):.1f}' x2='{width - right}' y2='{y(0):.1f}' stroke='#94a3b8' stroke-dasharray='4 3'/>",
             *(f"<text x='{left - 6}' y='{y(t) + 4:.1f}' text-anchor='end' {_FONT}>{t:+.0%}</text>"
               for t in (-span / 1.1, 0.0, span / 1.1))]
    if days:
        parts += [f"<text x='{left}' y='{height - 8}' {_FONT}>{escape(days[0])}</text>",
                  f"<text x='{width - right}' y='{height - 8}' text-anchor='end' {_FONT}>{escape(days[-1])}</text>"]
    for colour, (variant, points) in zip(PALETTE[1:], series.items()):
        band = [(i, (p.relative_ci[0], p.relative_ci[1])) for i, p in enumerate(points)
                if p.relative_ci[0] is not None and p.relative_ci[1] is not None]
        if band:
            outline = [f"{x(i):.1f},{y(ci[1]):.1f}" for i, ci in band]
            outline += [f"{x(i):.1f},{y(ci[0]):.1f}" for i, ci in reversed(band)]
            parts.append(f"<polygon points='{' '.join(outline)}' fill='{colour}' fill-opacity='0.15'/>")
        line = [f"{x(i):.1f},{y(p.relative_effect):.1f}" for i, p in enumerate(points) if p.relative_effect is not None]
        if line:
            parts.append(f"<polyline points='{' '.join(line)}' fill='none' stroke='{colour}' stroke-width='2'>"
                         f"<title>{escape(variant)}</title></polyline>")
    return _svg(width, height, "Cumulative relative lift by day", parts)


def exposure_chart(days: Sequence[str], exposures: Mapping[str, Sequence[int]], width: int = 640, height: int = 180) -> str:
    """Units first exposed per day, one bar per variant and day."""
    left, right, top, bottom = 56, 16, 12, 28
    peak = max([1, *(n for counts in exposures.values() for n in counts)])
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8 / max(len(exposures), 1), 1.0)
    parts = [f"<text x='{left - 6}' y='{top + 4}' text-anchor='end' {_FONT}>{peak:,}</text>",
             f"<text x='{left - 6}' y='{top + plot_h}' text-anchor='end' {_FONT}>0</text>",
             f"<line x1='{left}' y1='{top + plot_h}' x2='{width - right}' y2='{top + plot_h}' stroke='#cbd5e1'/>"]
    if days:
        parts += [f"<text x='{left}' y='{height - 8}' {_FONT}>{escape(days[0])}</text>",
                  f"<text x='{width - right}' y='{height - 8}' text-anchor='end' {_FONT}>{escape(days[-1])}</text>"]
    for number, (colour, (variant, counts)) in enumerate(zip(PALETTE, exposures.items())):
        for day_index, units in enumerate(counts):
            bar_height = plot_h * units / peak
            parts.append(
                f"<rect x='{left + day_index * slot + slot * 0.1 + number * bar:.1f}' y='{top + plot_h - bar_height:.1f}'"
                f" width='{bar:.1f}' height='{bar_height:.1f}' fill='{colour}'>"
                f"<title>{escape(variant)} {escape(days[day_index])}: {units:,}</title></rect>"
            )
    return _svg(width, height, "Units first exposed per day and variant", parts)


def _svg(width: int, height: int, title: str, parts: list[str]) -> str:
    body = "".join(parts)
    return (f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='100%' "
            f"role='img' aria-label='{escape(title)}'><title>{escape(title)}</title>{body}</svg>")
