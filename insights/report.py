"""Insights for people: terminal tables of the typed documents the API serves (so the CLI, the
demo and the API show the same numbers)."""

from __future__ import annotations

from collections.abc import Sequence

from insights.funnels import FunnelResult, FunnelStep
from insights.retention import RetentionResult
from insights.trends import TrendsResult

__all__ = ["format_value", "text_table", "render_trends", "render_funnel", "render_retention"]


def format_value(value: float) -> str:
    """A trend value as people read it: whole numbers with thousands separators, others to 2 decimals."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int | None = None) -> list[str]:
    """Columns padded to their widest cell, a rule under the header; columns from `numeric_from` on right-aligned."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(cell.rjust(width) if numeric_from is not None and index >= numeric_from else cell.ljust(width)
                         for index, (cell, width) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), "  ".join("-" * width for width in widths), *(line(row) for row in rows)]


def render_trends(result: TrendsResult) -> str:
    """One row per interval, one column per series (and breakdown value)."""
    if not result.series:
        return "No events match the query."
    header = ["interval", *(f"{s.label} ({s.math})" for s in result.series)]
    dates = result.series[0].dates
    rows = [[date, *(format_value(s.values[index]) for s in result.series)] for index, date in enumerate(dates)]
    title = f"Trends · {result.interval} · {result.timezone}"
    return "\n".join([title, "", *text_table(header, rows, numeric_from=1)])


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value / 3600:,.1f} h" if value >= 3600 else f"{value / 60:,.1f} min" if value >= 60 else f"{value:,.0f} s"


def _funnel_rows(steps: Sequence[FunnelStep]) -> list[list[str]]:
    rows = []
    for index, step in enumerate(steps):
        dropped = steps[index].count - steps[index + 1].count if index + 1 < len(steps) else 0
        rows.append([f"{index + 1}. {step.event}", f"{step.count:,}", f"{step.conversion_from_first:.1%}",
                     f"{step.conversion_from_previous:.1%}", f"{dropped:,}" if index + 1 < len(steps) else "-",
                     _seconds(step.median_seconds_from_previous)])
    return rows


def render_funnel(result: FunnelResult) -> str:
    """One row per step: persons, conversion from the first and previous step, drop-off after it, median time."""
    header = ["step", "persons", "of first", "of previous", "dropped after", "median time"]
    lines = ["Funnel", "", *text_table(header, _funnel_rows(result.steps), numeric_from=1)]
    for breakdown in result.breakdowns:
        value = "(missing)" if breakdown.value is None else breakdown.value
        lines += ["", f"Breakdown {value}", *text_table(header, _funnel_rows(breakdown.steps), numeric_from=1)]
    return "\n".join(lines)


def render_retention(result: RetentionResult) -> str:
    """One row per cohort: its start, size, and the share of it that returned in each period."""
    if not result.cohorts:
        return "No cohorts in the date range."
    periods = max(len(c.values) for c in result.cohorts)
    header = ["cohort", "size", *(f"{k}" for k in range(periods))]
    rows = [[c.start.isoformat(), f"{c.size:,}",
             *(f"{v / c.size:.0%}" if c.size else "-" for v in c.values), *([""] * (periods - len(c.values)))]
            for c in result.cohorts]
    return "\n".join(["Retention (share of the cohort returning in period k)", "", *text_table(header, rows, numeric_from=1)])
