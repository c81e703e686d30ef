"""Experiment results for people and programs: a JSON document and a terminal table.

The JSON is the one contract: the CLI table and the dashboard render it, so every number
a PM sees is one the API serves. Non-finite numbers travel as null.
"""

from __future__ import annotations

import math
from typing import Any

from experiments.analysis import (
    Comparison,
    ExperimentResult,
    LiftPoint,
    MetricResult,
    VariantValue,
)
from experiments.formatting import (
    format_interval,
    format_p,
    format_percent,
    format_relative_interval,
    format_total,
    format_values,
)

__all__ = ["result_document", "render_table", "guardrail_warnings", "ROLE_TITLES"]

ROLE_TITLES = {"primary": "Primary metric", "secondary": "Secondary metric", "guardrail": "Guardrail"}


def result_document(result: ExperimentResult) -> dict[str, Any]:
    """The JSON shape served by `/v1/experiments/{key}/results` and `--json`."""
    settings = result.settings
    return {
        "experiment": result.definition.key,
        "name": result.definition.name,
        "analysis": {"method": settings.method, "alpha": settings.alpha, "correction": settings.correction,
                     "cuped": settings.cuped, "power": settings.power, "mde": result.definition.mde},
        "alpha": settings.alpha,
        "verdict": result.verdict,
        "guardrail_harms": [{"metric": metric.metric.key, "name": metric.metric.label, "variant": comparison.variant}
                            for metric, comparison in result.guardrail_harms],
        "variants": [
            {"key": variant.key, "weight": variant.weight, "units": result.units[variant.key]}
            for variant in result.definition.variants
        ],
        "multiple_exposures": result.multiple_exposures,
        "srm": {"p_value": result.srm.p_value, "chi2": result.srm.chi2,
                "expected_units": list(result.srm.expected_units), "mismatch": result.srm.is_mismatch},
        "metrics": [_metric_document(metric) for metric in result.metrics],
        "timeline": {
            "days": [day.isoformat() for day in result.timeline.days],
            "exposures": result.timeline.exposures,
            "cumulative_lift": {
                metric: {variant: [_lift_point(point) for point in points] for variant, points in by_variant.items()}
                for metric, by_variant in result.timeline.cumulative_lift.items()
            },
        },
    }


def _metric_document(result: MetricResult) -> dict[str, Any]:
    metric, size = result.metric, result.sample_size
    return {
        "key": metric.key,
        "name": metric.label,
        "kind": metric.kind,
        "role": result.role,
        "primary": result.role == "primary",  # for clients written before roles existed
        "higher_is_better": metric.higher_is_better,
        "variants": [_variant_document(value) for value in result.variants],
        "comparisons": [_comparison_document(comparison) for comparison in result.comparisons],
        "sample_size": {"relative_mde": size.relative_mde, "required_units_per_variant": size.required_units_per_variant,
                        "progress": size.progress, "days_remaining": size.days_remaining},
    }


def _variant_document(value: VariantValue) -> dict[str, Any]:
    document = {"key": value.variant, "units": value.units, "total": value.total, "value": value.value}
    if value.denominator_total is not None:
        document["denominator_total"] = value.denominator_total
    return document


def _comparison_document(comparison: Comparison) -> dict[str, Any]:
    effect = comparison.effect
    return {
        "variant": comparison.variant,
        "control": comparison.control,
        "method": effect.method,
        "cuped": effect.cuped,
        "control_mean": effect.control_mean,
        "treatment_mean": effect.treatment_mean,
        "absolute_effect": _finite(effect.absolute_effect),
        "absolute_ci": [_finite(bound) for bound in effect.absolute_ci],
        "relative_effect": _finite(effect.relative_effect),
        "relative_ci": [_finite(bound) for bound in effect.relative_ci],
        "p_value": effect.p_value,
        "adjusted_p_value": comparison.adjusted_p_value,
        "chance_to_win": effect.chance_to_win,
        "expected_loss": effect.expected_loss,
        "significant": comparison.verdict in ("win", "loss"),
        "verdict": comparison.verdict,
    }


def _lift_point(point: LiftPoint) -> dict[str, Any]:
    return {"day": point.day.isoformat(), "relative_effect": _finite(point.relative_effect),
            "relative_ci": [_finite(bound) for bound in point.relative_ci]}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


_VALUE_HEADERS = {"conversion": ("conversions", "rate"), "mean": ("total", "per unit"),
                  "count": ("events", "per unit"), "ratio": ("numerator", "ratio")}
_VERDICT_TEXT = {"win": "WIN", "loss": "LOSS", "inconclusive": "", "suppressed": "no verdict (SRM)"}


def render_table(document: dict[str, Any]) -> str:
    """A terminal report of a results document (as served by the API)."""
    analysis = document["analysis"]
    lines = [f"Experiment {document['experiment']} · {analysis['method']} analysis · alpha {analysis['alpha']:g}"
             f" · correction {analysis['correction']}" + (" · CUPED" if analysis["cuped"] else "")]
    srm = document["srm"]
    if srm["mismatch"]:
        lines += ["", f"!! SAMPLE RATIO MISMATCH (p = {srm['p_value']:.2g}): units per variant "
                      f"{[v['units'] for v in document['variants']]} vs expected "
                      f"{[round(e) for e in srm['expected_units']]}. Verdicts are suppressed."]
    warnings = guardrail_warnings(document)
    if warnings:
        lines += ["", *(f"!! {warning}" for warning in warnings)]
    for metric in document["metrics"]:
        lines += ["", *_metric_table(metric, analysis)]
    lines += ["", f"Verdict: {document['verdict']}"]
    if document["multiple_exposures"]:
        lines.append(f"Excluded: {document['multiple_exposures']:,} units exposed to more than one variant")
    return "\n".join(line.rstrip() for line in lines)


def guardrail_warnings(document: dict[str, Any]) -> list[str]:
    """One "do not ship" line per guardrail harm in a results document, with its relative lift."""
    metrics = {metric["key"]: metric for metric in document["metrics"]}
    warnings = []
    for harm in document["guardrail_harms"]:
        comparison = next(c for c in metrics[harm["metric"]]["comparisons"] if c["variant"] == harm["variant"])
        lift = format_relative_interval(comparison["relative_effect"], *comparison["relative_ci"])
        warnings.append(f"Do not ship {harm['variant']}: guardrail {harm['name']} is worse ({lift})")
    return warnings


def _metric_table(metric: dict[str, Any], analysis: dict[str, Any]) -> list[str]:
    kind = metric["kind"]
    confidence = f"{100 * (1 - analysis['alpha']):g}%"
    bayesian = analysis["method"] == "bayesian"
    evidence = ["chance to win", "expected loss"] if bayesian else ["p-value", "adj. p"]
    header = ["variant", "units", *_VALUE_HEADERS[kind], f"abs lift ({confidence} CI)",
              f"rel lift ({confidence} CI)", *evidence, "result"]
    comparisons = {c["variant"]: c for c in metric["comparisons"]}
    values = format_values(kind, [variant["value"] for variant in metric["variants"]])
    rows = []
    for variant, value in zip(metric["variants"], values):
        row = [variant["key"], f"{variant['units']:,}", format_total(variant["total"]), value]
        comparison = comparisons.get(variant["key"])
        if comparison is None:
            row += ["(control)", "", "", "", ""]
        else:
            row += [
                format_interval(kind, comparison["absolute_effect"], *comparison["absolute_ci"]),
                format_relative_interval(comparison["relative_effect"], *comparison["relative_ci"]),
                *([format_percent(comparison["chance_to_win"], signed=False), format_percent(comparison["expected_loss"], signed=False)]
                  if bayesian else [format_p(comparison["p_value"]), format_p(comparison["adjusted_p_value"])]),
                _VERDICT_TEXT[comparison["verdict"]],
            ]
        rows.append(row)
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    size = metric["sample_size"]
    title = (f"{ROLE_TITLES[metric['role']]}: {metric['name']} ({kind}"
             f"{', lower is better' if not metric['higher_is_better'] else ''})")
    progress = "" if size["progress"] is None else (
        f"Sample size: {size['progress']:.0%} of {size['required_units_per_variant']:,} units per variant "
        f"for a {size['relative_mde']:.0%} MDE"
        + ("" if size["days_remaining"] is None else f", about {math.ceil(size['days_remaining'])} more days"))
    return [
        title,
        "  ".join(cell.ljust(width) for cell, width in zip(header, widths)),
        "  ".join("-" * width for width in widths),
        *("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows),
        *([progress] if progress else []),
    ]
