"""HTML pages of the dashboard, rendered from the same documents the JSON API serves.

Numbers are formatted with `experiments.report`'s formatters, so the page, the CLI and the
API agree. Every page is built by the one escaping renderer (`html`): any value from a
definition, a result, the URL or an error is text, never markup. Pages carry no inline script
or style, so they render under the dashboard's Content-Security-Policy (`security`).
"""

from __future__ import annotations

from importlib.resources import files
from urllib.parse import quote

from experiments.definitions import ExperimentDefinition
from experiments.formatting import format_total, format_values
from experiments.report import (
    ROLE_TITLES,
    VALUE_HEADERS,
    analysis_line,
    effect_cells,
    interval_label,
    metric_qualifiers,
    plan_line,
    result_text,
)
from experiments.result_document import AnalysisDocument, MetricDocument, ResultDocument, SampleSizeDocument
from northstar.web.dashboard.charts import ForestRow, exposure_chart, forest_chart, lift_chart
from northstar.web.dashboard.html import Html, html, join

__all__ = ["login_page", "list_page", "results_page", "not_found_page", "page"]

_BASE = (files(__package__) / "base.html").read_text(encoding="utf-8")
"""A template for `html`: `{title}`, `{logout}` and `{body}`."""
_LOGOUT = Html("<form method='post' action='/dashboard/logout'><button type='submit'>Log out</button></form>")


def page(title: str, body: Html, logged_in: bool = True) -> str:
    """A whole dashboard page: the template around `body` (already escaped markup)."""
    return html(_BASE, title=title, body=body, logout=_LOGOUT if logged_in else "")


def login_page(error: str = "") -> str:
    """The sign-in form, with `error` (text) above it when given."""
    message = html("<p class='error' id='error'>{error}</p>", error=error) if error else ""
    body = html(
        "<form class='login' method='post' action='/dashboard/login'>"
        "<h1>Sign in</h1><p class='sub'>Enter the collector's admin secret.</p>"
        "{message}<label for='secret'>Admin secret</label>"
        "<input id='secret' name='secret' type='password' autocomplete='current-password' autofocus>"
        "<button type='submit'>Sign in</button></form>", message=message,
    )
    return page("Sign in", body, logged_in=False)


def not_found_page(kind: str, key: str) -> str:
    """The page for an experiment or metric that does not exist; `key` is shown as text."""
    return page("Not found", html("<h1>Not found</h1><p class='sub' id='not-found'>No {kind} {key}.</p>"
                                   "<p><a href='/dashboard'>All experiments</a></p>", kind=kind, key=repr(key)))


def list_page(experiments: list[ExperimentDefinition], saved: Html) -> str:
    """The home page: the experiment list (every value from a definition escaped), then `saved` (insights)."""
    rows = join(
        html("<tr><td><a href='/dashboard/experiments/{path}'>{key}</a></td><td>{name}</td><td>{status}</td>"
             "<td>{variants}</td><td>{metrics}</td></tr>",
             path=quote(e.key, safe=""), key=e.key, name=e.name or "", status=str(e.status or ""),
             variants=", ".join(v.key for v in e.variants), metrics=", ".join(_metric_keys(e)))
        for e in experiments
    )
    body = html(
        "<nav class='sections'><a href='/dashboard/insights' id='insights-link'>Insights: trends</a> · "
        "<a href='/dashboard/funnel' id='funnel-link'>Funnels</a> · "
        "<a href='/dashboard/retention' id='retention-link'>Retention</a> · "
        "<a href='/dashboard/customer' id='customer-link'>Customer health</a> · "
        "<a href='/dashboard/persons'>Persons</a></nav>"
        "<h1>Experiments</h1><p class='sub'>{count} experiment{plural}</p>"
        "<section class='card'><table id='experiments'><thead><tr><th>Key</th><th>Name</th><th>Status</th>"
        "<th>Variants</th><th>Metrics</th></tr></thead><tbody>{rows}</tbody></table></section>{saved}",
        count=len(experiments), plural="s" * (len(experiments) != 1), rows=rows, saved=saved,
    )
    return page("Experiments", body)


def _metric_keys(experiment: ExperimentDefinition) -> list[str]:
    implicit = [f"conversion: {experiment.conversion_event}"] if experiment.conversion_event else []
    return implicit + list(experiment.metrics)


def results_page(document: ResultDocument) -> str:
    """An experiment's results page, rendered from the typed document the JSON API serves.

    The decision, its reason and the planned-sample progress come first; each message (SRM,
    a harmed guardrail) is said once, in the decision; tables scroll inside their cards.
    """
    analysis = document.analysis
    key = document.experiment
    sections = [
        html("<h1>{title}</h1><p class='sub'>{key} · {subtitle}</p>",
             title=document.name or key, key=key, subtitle=analysis_line(analysis)),
        _about(document),
        _decision(document),
        *(html("<div class='banner warn' role='alert'>{warning}</div>", warning=warning) for warning in document.warnings),
        _srm_banner(document),
        *(_metric_section(metric, analysis) for metric in document.metrics),
        _charts(document),
    ]
    return page(f"{key} results", join(sections))


def _about(document: ResultDocument) -> Html:
    """Status, start date (of the current phase), owner and hypothesis, as the definition gives them."""
    started = (document.phase_started_at or document.started_at or "")[:10] or "not started"
    items = html("<span><b>Status</b> <span class='pill status'>{status}</span></span>"
                 "<span><b>Started</b> {started}</span><span><b>Owner</b> {owner}</span>",
                 status=document.status or "draft", started=started, owner=document.owner or "—")
    hypothesis = html("<p class='hypothesis'><b>Hypothesis</b> {text}</p>", text=document.hypothesis) \
        if document.hypothesis else Html("")
    return html("<div class='about' id='about'>{items}{hypothesis}</div>", items=items, hypothesis=hypothesis)


def _decision(document: ResultDocument) -> Html:
    """The decision card: headline, reason (the `verdict` sentence), and progress against the plan."""
    plan = document.plan
    percent = 0.0 if plan.progress is None else 100 * plan.progress
    headline = document.summary.removesuffix(": " + document.reason)
    return html(
        "<section class='decision {decision}' id='decision'><div class='verdict' id='verdict'>"
        "<span class='headline'>{headline}</span>: <span class='reason'>{reason}</span></div>"
        "<p class='plan'><progress class='progress' max='100' value='{percent:.0f}'></progress>{plan}</p></section>",
        decision=document.decision, headline=headline, reason=document.reason, percent=percent,
        plan=plan_line(document),
    )


def _srm_banner(document: ResultDocument) -> Html:
    """The traffic check: green only with traffic and no mismatch; a mismatch is in the decision."""
    srm = document.srm
    if srm.mismatch:
        return Html("")
    units = ", ".join(f"{v.key} {v.units:,}" for v in document.variants)
    excluded = (f" · {document.multiple_exposures:,} units seen in several variants excluded"
                if document.multiple_exposures else "")
    if not any(v.units for v in document.variants):
        return html("<div class='banner neutral' id='srm'>No exposures yet: the traffic split cannot be checked"
                    "{excluded}.</div>", excluded=excluded)
    return html("<div class='banner ok' id='srm'>Traffic split as configured (SRM p = {p:.3f}): {units}{excluded}</div>",
                p=srm.p_value, units=units, excluded=excluded)


def _metric_section(metric: MetricDocument, analysis: AnalysisDocument) -> Html:
    kind, bayesian = metric.kind, analysis.method == "bayesian"
    evidence = ("Chance to win", "Expected loss") if bayesian else ("p-value", "Adjusted p")
    comparisons = {c.variant: c for c in metric.comparisons}
    values = format_values(kind, [variant.value for variant in metric.variants])
    rows = []
    for variant, value in zip(metric.variants, values):
        comparison = comparisons.get(variant.key)
        if comparison is None:
            versus = Html("<td colspan='5' class='sub'>control</td>")
        else:
            against_margin = metric.margin is not None and comparison.guardrail is not None
            versus = html("{numbers}<td><span class='pill {state}'>{result}</span></td>",
                          numbers=join(html("<td class='num'>{number}</td>", number=n)
                                       for n in effect_cells(kind, comparison, bayesian)),
                          state=comparison.guardrail if against_margin else comparison.verdict,
                          result=(result_text(metric, comparison) or comparison.verdict).lower())
        rows.append(html("<tr data-variant='{key}'><td>{key}</td><td class='num'>{units:,}</td>"
                         "<td class='num'>{total}</td><td class='num'>{value}</td>{versus}</tr>",
                         key=variant.key, units=variant.units, total=format_total(variant.total), value=value,
                         versus=versus))
    intervals = interval_label(analysis)
    numerator, per_unit = VALUE_HEADERS[kind]
    return html(
        "<section class='card metric {role}' data-metric='{key}'>"
        "<h2>{role_title}: {name} <span class='sub'>({qualifiers})</span></h2>"
        "<div class='table-scroll'><table><thead><tr><th>Variant</th><th class='num'>Units</th>"
        "<th class='num'>{numerator}</th><th class='num'>{per_unit}</th>"
        "<th class='num'>Abs. lift ({intervals})</th><th class='num'>Rel. lift ({intervals})</th>"
        "<th class='num'>{evidence[0]}</th><th class='num'>{evidence[1]}</th><th>Result</th></tr></thead>"
        "<tbody>{rows}</tbody></table></div>{progress}</section>",
        role=metric.role, key=metric.key, role_title=ROLE_TITLES[metric.role], name=metric.name,
        qualifiers=metric_qualifiers(metric), numerator=numerator.capitalize(), per_unit=per_unit.capitalize(),
        intervals=intervals, evidence=evidence, rows=join(rows), progress=_progress(metric.sample_size),
    )


def _progress(size: SampleSizeDocument) -> Html:
    if size.progress is None or size.required_units_per_variant is None:
        return Html("<p class='sub progress-text'>Sample size: not enough control data to plan yet.</p>")
    days = "" if size.days_remaining is None else f", about {size.days_remaining:.0f} more days at current traffic"
    return html("<p class='sub progress-text'><progress class='progress' max='100' value='{percent:.0f}'></progress>"
                "{progress:.0%} of {required:,} units per variant for a {mde:.0%} MDE{days}</p>",
                percent=100 * min(size.progress, 1.0), progress=size.progress,
                required=size.required_units_per_variant, mde=size.relative_mde, days=days)


def _charts(document: ResultDocument) -> Html:
    timeline = document.timeline
    forest = [
        ForestRow(f"{c.variant} · {metric.name}", c.relative_effect,
                  *((None, None) if c.degenerate else c.relative_ci), c.verdict)  # no interval to trust
        for metric in document.metrics for c in metric.comparisons
    ]
    lifts = join(
        html("<h2>{name}</h2>{chart}", name=metric.name,
             chart=lift_chart(f"lift-chart-{index}", timeline.days, timeline.cumulative_lift[metric.key]))
        for index, metric in enumerate(document.metrics)
    )
    return html(
        "<section class='card' id='forest'><h2>Relative lift by metric</h2>{forest}</section>"
        "<div class='grid'>"
        "<section class='card' id='lift'><h2>Cumulative lift over time</h2>{lifts}</section>"
        "<section class='card' id='exposures'><h2>Exposures per day</h2>{exposures}</section></div>",
        forest=forest_chart(forest), lifts=lifts, exposures=exposure_chart(timeline.days, timeline.exposures),
    )
