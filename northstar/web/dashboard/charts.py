"""Inline SVG charts drawn on the server: they render offline, with no script and no CDN.

Each function takes plain numbers (already in the results document) and returns an SVG
element as `Html`, built by the dashboard's one escaping renderer. Colours and fonts are SVG
presentation attributes, not `style`, so the pages need no inline styles under their CSP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from experiments.result_document import LiftPointDocument
from northstar.web.dashboard.html import Html, html, join

__all__ = ["ForestRow", "forest_chart", "lift_chart", "exposure_chart", "swatch", "PALETTE"]

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#9333ea", "#dc2626", "#0891b2")
_VERDICT_COLOURS = {"win": "#16a34a", "loss": "#dc2626", "inconclusive": "#64748b", "suppressed": "#94a3b8"}
_FONT = Html("font-family='system-ui, sans-serif' font-size='12' fill='#334155'")


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


def forest_chart(rows: Sequence[ForestRow], width: int = 1000) -> Html:
    """Relative lift and interval per (metric, variant), around a zero line."""
    row_height, left, right = 30, 340, 30
    height = row_height * len(rows) + 40
    span = min(_span([v for r in rows for v in (r.estimate, r.low, r.high)], 0.02), 5.0)
    plot = width - left - right

    def x(value: float) -> float:
        return left + plot * (max(-span, min(span, value)) + span) / (2 * span)

    parts = [html("<line x1='{x:.1f}' y1='10' x2='{x:.1f}' y2='{bottom}' stroke='#94a3b8' stroke-dasharray='4 3'/>",
                  x=x(0), bottom=height - 25)]
    for tick in (-span / 1.1, 0.0, span / 1.1):
        parts.append(html("<text x='{x:.1f}' y='{y}' text-anchor='middle' {font}>{tick:+.1%}</text>",
                          x=x(tick), y=height - 8, font=_FONT, tick=tick))
    for index, row in enumerate(rows):
        y = 20 + index * row_height
        colour = _VERDICT_COLOURS.get(row.verdict, "#64748b")
        label = row.label if len(row.label) <= 48 else row.label[:47] + "…"
        parts.append(html("<text x='8' y='{y}' {font}>{label}</text>", y=y + 4, font=_FONT, label=label))
        if row.low is not None and row.high is not None:
            parts.append(html("<line x1='{low:.1f}' y1='{y}' x2='{high:.1f}' y2='{y}' stroke='{colour}' "
                              "stroke-width='3' stroke-linecap='round'/>",
                              low=x(row.low), high=x(row.high), y=y, colour=colour))
        if row.estimate is not None:
            parts.append(html("<circle cx='{cx:.1f}' cy='{y}' r='5' fill='{colour}'/>",
                              cx=x(row.estimate), y=y, colour=colour))
    return _svg(width, height, "Relative lift with intervals", parts)


def lift_chart(days: Sequence[str], series: Mapping[str, Sequence[LiftPointDocument]], width: int = 640, height: int = 200) -> Html:
    """Cumulative relative lift per day for each treatment, with its interval as a band.

    The y-axis fits the estimates and the intervals no wider than twice the latest one, so
    the first days' huge intervals (clipped at the edge) do not flatten every line. Each
    treatment's line ends in a dot labelled with its name (one day of data is a dot with
    its interval as a bar).
    """
    left, right, top, bottom = 56, 150, 12, 28
    span = min(_span(_readable_values(series), 0.02), 5.0)
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(days) - 1, 1)

    def x(index: int) -> float:
        return left + plot_w * (index / count if len(days) > 1 else 0.5)

    def y(value: float) -> float:
        return top + plot_h * (span - max(-span, min(span, value))) / (2 * span)

    labels: list[tuple[float, float, str, str, float]] = []
    parts = [html("<line x1='{left}' y1='{y:.1f}' x2='{right}' y2='{y:.1f}' stroke='#94a3b8' stroke-dasharray='4 3'/>",
                  left=left, right=width - right, y=y(0)),
             *(html("<text x='{x}' y='{y:.1f}' text-anchor='end' {font}>{tick:+.0%}</text>",
                    x=left - 6, y=y(t) + 4, font=_FONT, tick=t)
               for t in (-span / 1.1, 0.0, span / 1.1))]
    parts += _day_labels(days, left, width - right, height - 8)
    for colour, (variant, points) in zip(PALETTE[1:], series.items()):
        band = [(i, (p.relative_ci[0], p.relative_ci[1])) for i, p in enumerate(points)
                if p.relative_ci[0] is not None and p.relative_ci[1] is not None]
        if len(band) > 1:
            outline = [f"{x(i):.1f},{y(ci[1]):.1f}" for i, ci in band]
            outline += [f"{x(i):.1f},{y(ci[0]):.1f}" for i, ci in reversed(band)]
            parts.append(html("<polygon points='{points}' fill='{colour}' fill-opacity='0.15'/>",
                              points=" ".join(outline), colour=colour))
        elif band:
            (i, (low, high)), = band
            parts.append(html("<line x1='{x:.1f}' y1='{low:.1f}' x2='{x:.1f}' y2='{high:.1f}' stroke='{colour}' "
                              "stroke-width='3' stroke-opacity='0.4'/>", x=x(i), low=y(low), high=y(high), colour=colour))
        line = [(i, p.relative_effect) for i, p in enumerate(points) if p.relative_effect is not None]
        if not line:
            continue
        parts.append(html("<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='2'>"
                          "<title>{variant}</title></polyline>",
                          points=" ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in line), colour=colour, variant=variant))
        last, value = line[-1]
        parts.append(html("<circle cx='{x:.1f}' cy='{y:.1f}' r='4' fill='{colour}'/>", x=x(last), y=y(value),
                          colour=colour))
        labels.append((y(value), x(last), colour, variant, value))
    parts += _end_labels(labels, top + plot_h)
    return _svg(width, height, "Cumulative relative lift by day", parts)


def _end_labels(labels: list[tuple[float, float, str, str, float]], lowest: float) -> list[Html]:
    """A label (name and latest lift) right of each line's end, moved apart to stay legible."""
    placed: list[Html] = []
    floor = -math.inf
    for y, x, colour, variant, value in sorted(labels):
        y = min(max(y, floor + 14), lowest + 8)
        floor = y
        placed.append(html("<text class='series-label' x='{x:.1f}' y='{y:.1f}' font-family='system-ui, sans-serif' "
                           "font-size='12' fill='{colour}'>{variant} {value:+.1%}</text>",
                           x=x + 8, y=y + 4, colour=colour,
                           variant=variant if len(variant) <= 16 else variant[:15] + "…", value=value))
    return placed


def _readable_values(series: Mapping[str, Sequence[LiftPointDocument]]) -> list[float | None]:
    """Estimates, and the interval bounds of points at most twice as wide as each series' latest."""
    values: list[float | None] = []
    for points in series.values():
        widths = [p.relative_ci[1] - p.relative_ci[0] for p in points
                  if p.relative_ci[0] is not None and p.relative_ci[1] is not None]
        limit = 2 * widths[-1] if widths else 0.0
        for point in points:
            values.append(point.relative_effect)
            low, high = point.relative_ci
            if low is not None and high is not None and high - low <= limit:
                values += [low, high]
    return values


def exposure_chart(days: Sequence[str], exposures: Mapping[str, Sequence[int]], width: int = 640, height: int = 180) -> Html:
    """Units first exposed per day, one bar per variant and day."""
    left, right, top, bottom = 56, 16, 12, 28
    peak = max([1, *(n for counts in exposures.values() for n in counts)])
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.8 / max(len(exposures), 1), 1.0)
    parts = [html("<text x='{x}' y='{y}' text-anchor='end' {font}>{peak:,}</text>", x=left - 6, y=top + 4, font=_FONT, peak=peak),
             html("<text x='{x}' y='{y}' text-anchor='end' {font}>0</text>", x=left - 6, y=top + plot_h, font=_FONT),
             html("<line x1='{left}' y1='{y}' x2='{right}' y2='{y}' stroke='#cbd5e1'/>",
                  left=left, right=width - right, y=top + plot_h)]
    parts += _day_labels(days, left, width - right, height - 8)
    for number, (colour, (variant, counts)) in enumerate(zip(PALETTE, exposures.items())):
        for day_index, units in enumerate(counts):
            bar_height = plot_h * units / peak
            parts.append(html(
                "<rect x='{x:.1f}' y='{y:.1f}' width='{width:.1f}' height='{height:.1f}' fill='{colour}'>"
                "<title>{variant} {day}: {units:,}</title></rect>",
                x=left + day_index * slot + slot * 0.1 + number * bar, y=top + plot_h - bar_height, width=bar,
                height=bar_height, colour=colour, variant=variant, day=days[day_index], units=units,
            ))
    return _svg(width, height, "Units first exposed per day and variant", parts)


def swatch(colour: str) -> Html:
    """A small square of `colour`, for a legend."""
    return html("<svg class='swatch' viewBox='0 0 10 10' width='10' height='10' aria-hidden='true'>"
                "<rect width='10' height='10' rx='2' fill='{colour}'/></svg>", colour=colour)


def _day_labels(days: Sequence[str], left: int, right: int, y: int) -> list[Html]:
    """The first and last day under a time axis (one label, centred, for a single day)."""
    if not days:
        return []
    if len(days) == 1:
        return [html("<text x='{x}' y='{y}' text-anchor='middle' {font}>{day}</text>",
                     x=(left + right) // 2, y=y, font=_FONT, day=days[0])]
    return [html("<text x='{x}' y='{y}' {font}>{day}</text>", x=left, y=y, font=_FONT, day=days[0]),
            html("<text x='{x}' y='{y}' text-anchor='end' {font}>{day}</text>", x=right, y=y, font=_FONT, day=days[-1])]


def _svg(width: int, height: int, title: str, parts: list[Html]) -> Html:
    return html("<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='100%' "
                "role='img' aria-label='{title}'><title>{title}</title>{body}</svg>",
                width=width, height=height, title=title, body=join(parts))
