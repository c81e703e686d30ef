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
from experiments.result_document import AnalysisDocument, MetricDocument, ResultDocument, result_document
from insights.report import text_table

__all__ = ["result_document", "render_table", "guardrail_warnings", "ROLE_TITLES"]

ROLE_TITLES: dict[MetricRole, str] = {"primary": "Primary metric", "secondary": "Secondary metric",
                                     "guardrail": "Guardrail"}


_VALUE_HEADERS = {"conversion": ("conversions", "rate"), "mean": ("total", "per unit"),
                  "count": ("events", "per unit"), "ratio": ("numerator", "ratio")}
_VERDICT_TEXT: dict[Verdict, str] = {"win": "WIN", "loss": "LOSS", "inconclusive": "", "suppressed": "no verdict (SRM)"}


def render_table(document: ResultDocument) -> str:
    """A terminal report of a results document (as served by the API)."""
    analysis = document.analysis
    lines = [f"Experiment {document.experiment} · {analysis.method} analysis · alpha {analysis.alpha:g}"
             f" · correction {analysis.correction}" + (" · CUPED" if analysis.cuped else "")]
    srm = document.srm
    if srm.mismatch:
        lines += ["", f"!! SAMPLE RATIO MISMATCH (p = {srm.p_value:.2g}): units per variant "
                      f"{[v.units for v in document.variants]} vs expected "
                      f"{[round(e) for e in srm.expected_units]}. Verdicts are suppressed."]
    warnings = guardrail_warnings(document)
    if warnings:
        lines += ["", *(f"!! {warning}" for warning in warnings)]
    for metric in document.metrics:
        lines += ["", *_metric_table(metric, analysis)]
    lines += ["", f"Verdict: {document.summary}"]
    if document.multiple_exposures:
        lines.append(f"Excluded: {document.multiple_exposures:,} units exposed to more than one variant")
    return "\n".join(line.rstrip() for line in lines)


def guardrail_warnings(document: ResultDocument) -> list[str]:
    """One "do not ship" line per guardrail harm in a results document, with its relative lift."""
    metrics = {metric.key: metric for metric in document.metrics}
    warnings = []
    for harm in document.guardrail_harms:
        comparison = next(c for c in metrics[harm.metric].comparisons if c.variant == harm.variant)
        lift = format_relative_interval(comparison.relative_effect, *comparison.relative_ci)
        warnings.append(f"Do not ship {harm.variant}: guardrail {harm.name} is worse ({lift})")
    return warnings


def _metric_table(metric: MetricDocument, analysis: AnalysisDocument) -> list[str]:
    kind = metric.kind
    confidence = f"{100 * (1 - analysis.alpha):g}%"
    bayesian = analysis.method == "bayesian"
    evidence = ["chance to win", "expected loss"] if bayesian else ["p-value", "adj. p"]
    header = ["variant", "units", *_VALUE_HEADERS[kind], f"abs lift ({confidence} CI)",
              f"rel lift ({confidence} CI)", *evidence, "result"]
    comparisons = {c.variant: c for c in metric.comparisons}
    values = format_values(kind, [variant.value for variant in metric.variants])
    rows = []
    for variant, value in zip(metric.variants, values):
        row = [variant.key, f"{variant.units:,}", format_total(variant.total), value]
        comparison = comparisons.get(variant.key)
        if comparison is None:
            row += ["(control)", "", "", "", ""]
        else:
            row += [
                format_interval(kind, comparison.absolute_effect, *comparison.absolute_ci),
                format_relative_interval(comparison.relative_effect, *comparison.relative_ci),
                *([format_percent(comparison.chance_to_win, signed=False), format_percent(comparison.expected_loss, signed=False)]
                  if bayesian else [format_p(comparison.p_value), format_p(comparison.adjusted_p_value)]),
                _VERDICT_TEXT[comparison.verdict],
            ]
        rows.append(row)
    size = metric.sample_size
    title = (f"{ROLE_TITLES[metric.role]}: {metric.name} ({kind}"
             f"{', lower is better' if not metric.higher_is_better else ''})")
    progress = "" if size.progress is None or size.required_units_per_variant is None else (
        f"Sample size: {size.progress:.0%} of {size.required_units_per_variant:,} units per variant "
        f"for a {size.relative_mde:.0%} MDE"
        + ("" if size.days_remaining is None else f", about {math.ceil(size.days_remaining)} more days"))
    return [
        title,
        *text_table(header, rows),
        *([progress] if progress else []),
    ]
