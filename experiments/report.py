"""Experiment results for people: the terminal table of a typed results document.

The table renders `experiments.result_document.ResultDocument`, the type the JSON API serves
and the dashboard renders, so every number a PM sees is one the API serves.
"""

from __future__ import annotations

import math

from experiments.analysis import MetricRole, Verdict
from experiments.formatting import (
    format_interval,
    format_p,
    format_percent,
    format_relative_interval,
    format_total,
    format_values,
)
from experiments.result_document import (
    AnalysisDocument,
    ComparisonDocument,
    MetricDocument,
    ResultDocument,
    result_document,
)
from insights.report import text_table

__all__ = ["result_document", "render_table", "analysis_line", "interval_label",
           "plan_line", "effect_cells", "metric_qualifiers", "result_text", "ROLE_TITLES", "VALUE_HEADERS"]

_NO_VARIATION = "n/a (no variation)"

ROLE_TITLES: dict[MetricRole, str] = {"primary": "Primary metric", "secondary": "Secondary metric",
                                     "guardrail": "Guardrail"}


VALUE_HEADERS = {"conversion": ("conversions", "rate"), "mean": ("total", "per unit"),
                 "count": ("events", "per unit"), "ratio": ("numerator", "ratio")}
"""Per metric kind: the headers of a variant's numerator total and of its value per unit."""
_VERDICT_TEXT: dict[Verdict, str] = {"win": "WIN", "loss": "LOSS", "inconclusive": "", "suppressed": "no verdict (SRM)"}


def render_table(document: ResultDocument) -> str:
    """A terminal report of a results document (as served by the API)."""
    analysis = document.analysis
    lines = [f"Experiment {document.experiment} · {analysis_line(analysis)}",
             f"Decision: {document.summary}", plan_line(document)]
    lines += [f"!! {warning}" for warning in document.warnings]
    for metric in document.metrics:
        lines += ["", *_metric_table(metric, analysis)]
    if document.multiple_exposures:
        lines.append("")
        lines.append(f"Excluded: {document.multiple_exposures:,} units exposed to more than one variant")
    return "\n".join(line.rstrip() for line in lines)


def analysis_line(analysis: AnalysisDocument) -> str:
    """How the numbers were computed, in the method's own terms (no alpha or correction for Bayesian)."""
    if analysis.method == "bayesian":
        words = f"bayesian analysis · {interval_label(analysis)} intervals"
    else:
        words = f"{analysis.method} analysis · alpha {analysis.alpha:g} · correction {analysis.correction}"
    return words + (" · CUPED" if analysis.cuped else "") + f" · MDE {analysis.mde:.0%}"


def interval_label(analysis: AnalysisDocument) -> str:
    """"95% CI" for confidence intervals or sequences, "95% credible" for Bayesian ones."""
    confidence = f"{100 * (1 - analysis.alpha):g}%"
    return f"{confidence} credible" if analysis.method == "bayesian" else f"{confidence} CI"


def plan_line(document: ResultDocument) -> str:
    """Progress against the plan: planned sample and minimum runtime."""
    plan = document.plan
    runtime = f"runtime {plan.runtime_days:.1f} of at least {plan.min_runtime_days} days"
    if plan.planned_units_per_variant is None or plan.progress is None:
        return f"Planned sample: not known yet (not enough control data) · {runtime}"
    return (f"Planned sample: {plan.progress:.0%} of {plan.planned_units_per_variant:,} units per variant"
            f" · {runtime}")


def effect_cells(kind: str, comparison: ComparisonDocument, bayesian: bool) -> list[str]:
    """The absolute and relative lifts and the evidence (p-values, or chance to win and expected
    loss), as the table and the page show them; not given as numbers when an arm does not vary."""
    if comparison.degenerate:
        lifts = [_NO_VARIATION, _NO_VARIATION]
    else:
        lifts = [format_interval(kind, comparison.absolute_effect, *comparison.absolute_ci),
                 format_relative_interval(comparison.relative_effect, *comparison.relative_ci)]
    if bayesian:
        return [*lifts, format_percent(comparison.chance_to_win, signed=False),
                format_percent(comparison.expected_loss, signed=False)]
    return [*lifts, format_p(comparison.p_value), format_p(comparison.adjusted_p_value)]


_GUARDRAIL_TEXT = {"harmed": "HARM", "within_margin": "within margin", "undetermined": "margin not shown",
                   "no_harm_detected": ""}


def result_text(metric: MetricDocument, comparison: ComparisonDocument) -> str:
    """The result cell: WIN / LOSS, or for a guardrail with a margin where it stands against it."""
    if comparison.verdict == "suppressed" or comparison.guardrail is None or metric.margin is None:
        return _VERDICT_TEXT[comparison.verdict]
    return _GUARDRAIL_TEXT[comparison.guardrail]


def metric_qualifiers(metric: MetricDocument) -> str:
    """Kind, direction, one-sided alternative and guardrail margin: "count, lower is better, margin 2%"."""
    parts: list[str] = [metric.kind]
    if not metric.higher_is_better:
        parts.append("lower is better")
    if metric.alternative != "two-sided":
        parts.append(f"one-sided: {metric.alternative}")
    if metric.margin is not None:
        parts.append(f"margin {metric.margin:.0%}")
    return ", ".join(parts)


def _metric_table(metric: MetricDocument, analysis: AnalysisDocument) -> list[str]:
    kind = metric.kind
    intervals = interval_label(analysis)
    bayesian = analysis.method == "bayesian"
    evidence = ["chance to win", "expected loss"] if bayesian else ["p-value", "adj. p"]
    header = ["variant", "units", *VALUE_HEADERS[kind], f"abs lift ({intervals})",
              f"rel lift ({intervals})", *evidence, "result"]
    comparisons = {c.variant: c for c in metric.comparisons}
    values = format_values(kind, [variant.value for variant in metric.variants])
    rows = []
    for variant, value in zip(metric.variants, values):
        row = [variant.key, f"{variant.units:,}", format_total(variant.total), value]
        comparison = comparisons.get(variant.key)
        if comparison is None:
            row += ["(control)", "", "", "", ""]
        else:
            row += [*effect_cells(kind, comparison, bayesian), result_text(metric, comparison)]
        rows.append(row)
    size = metric.sample_size
    title = f"{ROLE_TITLES[metric.role]}: {metric.name} ({metric_qualifiers(metric)})"
    progress = "" if size.progress is None or size.required_units_per_variant is None else (
        f"Sample size: {size.progress:.0%} of {size.required_units_per_variant:,} units per variant "
        f"for a {size.relative_mde:.0%} MDE"
        + ("" if size.days_remaining is None else f", about {math.ceil(size.days_remaining)} more days"))
    return [
        title,
        *text_table(header, rows),
        *([progress] if progress else []),
    ]
