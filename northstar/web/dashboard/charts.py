"""Charts drawn in the browser by Apache ECharts (vendored, served from the dashboard's origin).

Each function takes plain numbers (already in a document the API serves) and returns a chart
element plus its data as JSON in a `<script type="application/json">` element
(`html.json_script`); `static/charts.js` draws every such element. No request is made for
data, and nothing is inline script or style, so the pages keep their CSP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from experiments.result_document import LiftPointDocument
from insights.trends import TrendsResult
from northstar.web.dashboard.html import Html, html, json_script

__all__ = ["ForestRow", "forest_chart", "lift_chart", "exposure_chart", "funnel_chart", "trend_chart"]


@dataclass(frozen=True)
class ForestRow:
    """One (metric, variant) row of the forest chart: relative lift, its interval (None: not finite) and the
    verdict colouring it."""

    label: str
    estimate: float | None
    low: float | None
    high: float | None
    verdict: str


def _chart(element_id: str, label: str, spec: Mapping[str, object]) -> Html:
    return html("<div class='chart' id='{id}' data-chart='{id}-data' role='img' aria-label='{label}'></div>{data}",
                id=element_id, label=label, data=json_script(f"{element_id}-data", spec))


def forest_chart(rows: Sequence[ForestRow]) -> Html:
    """Relative lift and interval per (metric, variant), around a zero line."""
    return _chart("forest-chart", "Relative lift with intervals", {
        "kind": "forest",
        "rows": [{"label": r.label, "estimate": r.estimate, "low": r.low, "high": r.high, "verdict": r.verdict}
                 for r in rows]})


def lift_chart(element_id: str, days: Sequence[str], series: Mapping[str, Sequence[LiftPointDocument]]) -> Html:
    """Cumulative relative lift per day for each treatment, with its interval as a band.

    The y-axis (`y_span`, symmetric around zero) fits the estimates and the intervals no
    wider than twice each series' latest, so the first days' huge intervals (clipped at the
    edge) do not flatten every line; each line is labelled with its treatment's name.
    """
    return _chart(element_id, "Cumulative relative lift by day", {
        "kind": "lift", "days": list(days), "y_span": _readable_span(series),
        "series": [{"name": variant, "effect": [p.relative_effect for p in points],
                    "low": [p.relative_ci[0] for p in points], "high": [p.relative_ci[1] for p in points]}
                   for variant, points in series.items()]})


def _readable_span(series: Mapping[str, Sequence[LiftPointDocument]]) -> float:
    """Half the y-axis: the largest estimate or readable interval bound, plus a margin (2% to 500%)."""
    values: list[float] = []
    for points in series.values():
        widths = [p.relative_ci[1] - p.relative_ci[0] for p in points
                  if p.relative_ci[0] is not None and p.relative_ci[1] is not None]
        limit = 2 * widths[-1] if widths else 0.0
        for point in points:
            low, high = point.relative_ci
            candidates = [point.relative_effect]
            if low is not None and high is not None and high - low <= limit:
                candidates += [low, high]
            values += [abs(v) for v in candidates if v is not None and math.isfinite(v)]
    return min(max([0.02, *values]) * 1.1, 5.0)


def exposure_chart(days: Sequence[str], exposures: Mapping[str, Sequence[int]]) -> Html:
    """Units first exposed per day, one bar per variant and day."""
    return _chart("exposure-chart", "Units first exposed per day and variant", {
        "kind": "bars", "days": list(days),
        "series": [{"name": variant, "values": list(counts)} for variant, counts in exposures.items()]})


def funnel_chart(steps: Sequence[str], reached: Sequence[int], dropped: Sequence[int]) -> Html:
    """Persons per funnel step: those who reached it and those who dropped after it, side by side."""
    return _chart("funnel-chart", "Persons per funnel step", {
        "kind": "bars", "days": list(steps),
        "series": [{"name": "reached", "values": list(reached)}, {"name": "dropped after", "values": list(dropped)}]})


def trend_chart(result: TrendsResult) -> Html:
    """A line per series (and breakdown value) over the result's intervals."""
    dates = result.series[0].dates if result.series else []
    return _chart("trend-chart", "Trends", {
        "kind": "trend", "dates": dates,
        "series": [{"name": f"{s.label} ({s.math})", "values": s.values} for s in result.series]})
