"""Customer insight for people: terminal tables of lifecycle, stickiness, paths, NPS and cohorts
(the CLI and the demo print these, from the API's documents, so they show the API's numbers)."""

from __future__ import annotations

from insights.cohorts import CohortDetail
from insights.lifecycle import LifecycleResult, StickinessResult
from insights.paths import PathsResult
from insights.report import text_table
from insights.surveys import NpsResult, NpsSummary

__all__ = ["render_lifecycle", "render_stickiness", "render_paths", "render_nps", "render_cohort", "percent",
           "nps_text"]


def percent(value: float | None) -> str:
    """A share as people read it (`12.0%`), `–` when there is none."""
    return "–" if value is None else f"{100 * value:.1f}%"


def nps_text(summary: NpsSummary) -> str:
    """`+40 ± 70` (points), `–` without responses."""
    if summary.nps is None or summary.nps_margin is None:
        return "–"
    return f"{summary.nps:+.0f} ± {summary.nps_margin:.0f}"


def render_lifecycle(result: LifecycleResult) -> str:
    """One row per interval: new, returning, resurrecting, dormant, active, churn rate."""
    header = ["interval", "new", "returning", "resurrecting", "dormant", "active", "churn"]
    rows = [[p.date, f"{p.new:,}", f"{p.returning:,}", f"{p.resurrecting:,}", f"{p.dormant:,}", f"{p.active:,}",
             percent(p.churn_rate)] for p in result.points]
    title = f"Lifecycle · {result.event or 'any event'} · {result.interval} · {result.timezone}"
    return "\n".join([title, "", *text_table(header, rows, numeric_from=1)])


def render_stickiness(result: StickinessResult) -> str:
    """One row per k: persons active in exactly k intervals, and in k or more."""
    rows = [[str(k + 1), f"{result.exactly[k]:,}", f"{result.at_least[k]:,}"] for k in range(result.intervals)]
    title = f"Stickiness · {result.event or 'any event'} · {result.intervals} {result.interval}s"
    return "\n".join([title, "", *text_table([f"{result.interval}s", "exactly", "or more"], rows, numeric_from=1)])


def render_paths(result: PathsResult) -> str:
    """One row per edge, most persons first."""
    if not result.edges:
        return "No paths match the query."
    rows = [[e.source, e.target, f"{e.persons:,}", f"{e.mean_seconds:,.0f}"] for e in result.edges]
    return "\n".join(["Paths", "", *text_table(["from", "to", "persons", "mean s"], rows, numeric_from=2)])


def _summary_cells(summary: NpsSummary) -> list[str]:
    average = "–" if summary.average is None else f"{summary.average:.2f}"
    return [f"{summary.responses:,}", f"{summary.promoters:,}", f"{summary.passives:,}", f"{summary.detractors:,}",
            nps_text(summary), average]


_NPS_HEADER = ["responses", "promoters", "passives", "detractors", "NPS (95%)", "mean"]


def render_nps(result: NpsResult) -> str:
    """The total, then a row per interval and per breakdown value, then the latest answers."""
    lines = [f"NPS · {result.survey}", "", *text_table(["", *_NPS_HEADER], [["all", *_summary_cells(result.total)]],
                                                        numeric_from=1)]
    if result.dates:
        rows = [[p.date, *_summary_cells(p.summary)] for p in result.dates]
        lines += ["", *text_table(["interval", *_NPS_HEADER], rows, numeric_from=1)]
    if result.breakdowns:
        rows = [["(none)" if b.value is None else b.value, *_summary_cells(b.summary)] for b in result.breakdowns]
        lines += ["", *text_table(["segment", *_NPS_HEADER], rows, numeric_from=1)]
    if result.answers:
        lines += ["", "Latest answers:"]
        lines += [f"  [{'–' if a.score is None else f'{a.score:g}'}] {a.answer}  ({a.person_id[:8]})" for a in result.answers]
    return "\n".join(lines)


def render_cohort(detail: CohortDetail) -> str:
    """The cohort's name, size now, and size at the end of each recent day."""
    cohort = detail.cohort
    kind = f"static, {len(cohort.static_ids):,} ids" if cohort.is_static else f"{len(cohort.rules)} rules ({cohort.match})"
    lines = [f"Cohort {cohort.key} · {cohort.label} · {kind}", f"persons now: {detail.persons:,}"]
    if detail.sizes:
        lines += ["", *text_table(["day", "persons"], [[s.date, f"{s.persons:,}"] for s in detail.sizes], numeric_from=1)]
    return "\n".join(lines)
