"""Insights for people: terminal tables of the typed documents the API serves (so the CLI, the
demo and the API show the same numbers)."""

from __future__ import annotations

from collections.abc import Sequence

from insights.trends import TrendsResult

__all__ = ["format_value", "text_table", "render_trends"]


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
