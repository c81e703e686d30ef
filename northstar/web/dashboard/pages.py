"""HTML pages of the dashboard, rendered from the same documents the JSON API serves.

Numbers are formatted with `experiments.report`'s formatters, so the page, the CLI and the
API agree; every value from a definition is escaped.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from string import Template
from urllib.parse import quote

from experiments.definitions import ExperimentDefinition
from experiments.formatting import (
    format_interval,
    format_p,
    format_percent,
    format_relative_interval,
    format_values,
)
from experiments.report import ROLE_TITLES, guardrail_warnings
from experiments.result_document import AnalysisDocument, MetricDocument, ResultDocument, SampleSizeDocument
from northstar.web.dashboard.charts import (
    PALETTE,
    ForestRow,
    exposure_chart,
    forest_chart,
    lift_chart,
)

__all__ = ["login_page", "list_page", "results_page"]

_BASE = Template((files(__package__) / "base.html").read_text(encoding="utf-8"))
_LOGOUT = "<form method='post' action='/dashboard/logout'><button type='submit'>Log out</button></form>"


def _page(title: str, body: str, logged_in: bool = True) -> str:
    return _BASE.substitute(title=escape(title), body=body, logout=_LOGOUT if logged_in else "")


def login_page(error: str = "") -> str:
    """The sign-in form; `error` (escaped) says why the last attempt failed."""
    message = f"<p class='error'>{escape(error)}</p>" if error else ""
    body = (
        "<form class='login' method='post' action='/dashboard/login'>"
        "<h1>Sign in</h1><p class='sub'>Enter the collector's admin secret.</p>"
        f"{message}<label for='secret'>Admin secret</label>"
        "<input id='secret' name='secret' type='password' autocomplete='current-password' autofocus>"
        "<button type='submit'>Sign in</button></form>"
    )
    return _page("Sign in", body, logged_in=False)


def list_page(experiments: list[ExperimentDefinition]) -> str:
    """The experiment list, every value from a definition escaped."""
    rows = "".join(
        f"<tr><td><a href='/dashboard/experiments/{quote(e.key, safe='')}'>{escape(e.key)}</a></td>"
        f"<td>{escape(e.name or '')}</td><td>{escape(str(e.status or ''))}</td>"
        f"<td>{escape(', '.join(v.key for v in e.variants))}</td>"
        f"<td>{escape(', '.join(_metric_keys(e)))}</td></tr>"
        for e in experiments
    )
    body = (
        "<h1>Experiments</h1>"
        f"<p class='sub'>{len(experiments)} experiment{'s' * (len(experiments) != 1)}</p>"
        "<section class='card'><table id='experiments'><thead><tr><th>Key</th><th>Name</th><th>Status</th>"
        f"<th>Variants</th><th>Metrics</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )
    return _page("Experiments", body)


def _metric_keys(experiment: ExperimentDefinition) -> list[str]:
    implicit = [f"conversion: {experiment.conversion_event}"] if experiment.conversion_event else []
    return implicit + list(experiment.metrics)


def results_page(document: ResultDocument) -> str:
    """An experiment's results page, rendered from the typed document the JSON API serves."""
    analysis = document.analysis
    key = document.experiment
    subtitle = (f"{analysis.method} analysis · alpha {analysis.alpha:g} · correction {analysis.correction}"
                f"{' · CUPED' if analysis.cuped else ''} · MDE {analysis.mde:.0%}")
    sections = [
        f"<h1>{escape(document.name or key)}</h1><p class='sub'>{escape(key)} · {escape(subtitle)}</p>",
        _srm_banner(document),
        *(f"<div class='banner alert guardrail' role='alert'>{escape(warning)}</div>"
          for warning in guardrail_warnings(document)),
        f"<div class='verdict' id='verdict'>{escape(document.summary)}</div>",
        *(_metric_section(metric, analysis) for metric in document.metrics),
        _charts(document),
    ]
    return _page(f"{key} results", "".join(sections))


def _srm_banner(document: ResultDocument) -> str:
    srm = document.srm
    units = ", ".join(f"{escape(v.key)} {v.units:,}" for v in document.variants)
    excluded = (f" · {document.multiple_exposures:,} units seen in several variants excluded"
                if document.multiple_exposures else "")
    if srm.mismatch:
        expected = ", ".join(f"{e:,.0f}" for e in srm.expected_units)
        return (f"<div class='banner alert' id='srm' role='alert'>Sample ratio mismatch (p = {srm.p_value:.2g}): "
                f"units {units} vs expected {expected}. The split is not what was configured, so no "
                f"result below can be trusted and no winner is declared.{excluded}</div>")
    return (f"<div class='banner ok' id='srm'>Traffic split as configured (SRM p = {srm.p_value:.3f}): "
            f"{units}{excluded}</div>")


def _metric_section(metric: MetricDocument, analysis: AnalysisDocument) -> str:
    kind, bayesian = metric.kind, analysis.method == "bayesian"
    evidence = "<th class='num'>Chance to win</th><th class='num'>Expected loss</th>" if bayesian else \
        "<th class='num'>p-value</th><th class='num'>Adjusted p</th>"
    comparisons = {c.variant: c for c in metric.comparisons}
    values = format_values(kind, [variant.value for variant in metric.variants])
    rows = []
    for variant, value in zip(metric.variants, values):
        cells = [f"<td>{escape(variant.key)}</td>", f"<td class='num'>{variant.units:,}</td>",
                 f"<td class='num'>{value}</td>"]
        comparison = comparisons.get(variant.key)
        if comparison is None:
            cells.append("<td colspan='5' class='sub'>control</td>")
        else:
            absolute = format_interval(kind, comparison.absolute_effect, *comparison.absolute_ci)
            relative = format_relative_interval(comparison.relative_effect, *comparison.relative_ci)
            cells += [
                f"<td class='num'>{absolute}</td>",
                f"<td class='num'>{relative}</td>",
                *((f"<td class='num'>{format_percent(comparison.chance_to_win, False)}</td>",
                   f"<td class='num'>{format_percent(comparison.expected_loss, False)}</td>") if bayesian else
                  (f"<td class='num'>{format_p(comparison.p_value)}</td>",
                   f"<td class='num'>{format_p(comparison.adjusted_p_value)}</td>")),
                f"<td><span class='pill {comparison.verdict}'>{comparison.verdict}</span></td>",
            ]
        rows.append(f"<tr data-variant='{escape(variant.key)}'>{''.join(cells)}</tr>")
    confidence = f"{100 * (1 - analysis.alpha):g}%"
    direction = "" if metric.higher_is_better else " · lower is better"
    return (
        f"<section class='card metric {metric.role}' data-metric='{escape(metric.key)}'>"
        f"<h2>{ROLE_TITLES[metric.role]}: {escape(metric.name)} <span class='sub'>({kind}{direction})</span></h2>"
        f"<table><thead><tr><th>Variant</th><th class='num'>Units</th><th class='num'>Value</th>"
        f"<th class='num'>Abs. lift ({confidence} CI)</th><th class='num'>Rel. lift ({confidence} CI)</th>"
        f"{evidence}<th>Result</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f"{_progress(metric.sample_size)}</section>"
    )


def _progress(size: SampleSizeDocument) -> str:
    if size.progress is None or size.required_units_per_variant is None:
        return "<p class='sub progress-text'>Sample size: not enough control data to plan yet.</p>"
    days = "" if size.days_remaining is None else f", about {size.days_remaining:.0f} more days at current traffic"
    return (f"<p class='sub progress-text'><span class='progress'><span style='width:{100 * size.progress:.0f}%'>"
            f"</span></span>{size.progress:.0%} of {size.required_units_per_variant:,} units per variant "
            f"for a {size.relative_mde:.0%} MDE{days}</p>")


def _charts(document: ResultDocument) -> str:
    timeline = document.timeline
    forest = [
        ForestRow(f"{metric.name} · {c.variant}", c.relative_effect, *c.relative_ci, c.verdict)
        for metric in document.metrics for c in metric.comparisons
    ]
    lifts = "".join(
        f"<h2>{escape(metric.name)}</h2>{lift_chart(timeline.days, timeline.cumulative_lift[metric.key])}"
        for metric in document.metrics
    )
    variants = list(timeline.exposures)
    legend = "".join(f"<span><i style='background:{colour}'></i>{escape(v)}</span>" for colour, v in zip(PALETTE, variants))
    return (
        f"<section class='card' id='forest'><h2>Relative lift by metric</h2>{forest_chart(forest)}</section>"
        "<div class='grid'>"
        f"<section class='card' id='lift'><h2>Cumulative lift over time</h2>{lifts}</section>"
        f"<section class='card' id='exposures'><h2>Exposures per day</h2><p class='legend'>{legend}</p>"
        f"{exposure_chart(timeline.days, timeline.exposures)}</section>"
        "</div>"
    )
