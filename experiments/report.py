"""Experiment results for people and programs: a JSON document and a terminal table."""

from __future__ import annotations

import math
from typing import Any

from experiments.analysis import ConversionResult, VariantComparison

__all__ = ["result_document", "render_table", "verdict"]


def result_document(result: ConversionResult) -> dict[str, Any]:
    """The JSON shape served by `/v1/experiments/{key}/results` and `--json`."""
    return {
        "experiment": result.experiment,
        "metric": result.metric,
        "alpha": result.alpha,
        "multiple_exposures": result.multiple_exposures,
        "variants": [
            {"key": v.key, "units": v.units, "conversions": v.conversions, "rate": v.rate}
            for v in result.variants
        ],
        "comparisons": [_comparison_document(c) for c in result.comparisons],
        "verdict": verdict(result),
    }


def _comparison_document(comparison: VariantComparison) -> dict[str, Any]:
    estimate = comparison.estimate
    return {
        "variant": comparison.variant,
        "control": comparison.control,
        "method": estimate.method,
        "absolute_effect": estimate.absolute_effect,
        "absolute_ci": list(estimate.absolute_ci),
        "relative_effect": estimate.relative_effect,
        "relative_ci": list(estimate.relative_ci),
        "p_value": estimate.p_value,
        "significant": comparison.significant(),
    }


def verdict(result: ConversionResult) -> str:
    """One sentence a PM can act on."""
    winners = [c for c in result.comparisons if c.significant() and c.estimate.absolute_effect > 0]
    losers = [c for c in result.comparisons if c.significant() and c.estimate.absolute_effect < 0]
    if winners:
        best = max(winners, key=lambda c: c.estimate.absolute_effect)
        return f"{best.variant} beats {best.control} ({_p(best.estimate.p_value)})"
    if losers:
        worst = min(losers, key=lambda c: c.estimate.absolute_effect)
        return f"{worst.variant} is worse than {worst.control} ({_p(worst.estimate.p_value)})"
    return "no significant difference yet"


def render_table(document: dict[str, Any]) -> str:
    """A terminal table of a results document (as served by the API)."""
    confidence = f"{100 * (1 - document['alpha']):g}%"
    header = ["variant", "units", "conversions", "rate", f"abs lift ({confidence} CI)",
              f"rel lift ({confidence} CI)", "p-value", "result"]
    comparisons = {c["variant"]: c for c in document["comparisons"]}
    rows = []
    for variant in document["variants"]:
        row = [variant["key"], f"{variant['units']:,}", f"{variant['conversions']:,}",
               f"{variant['rate']:.2%}"]
        comparison = comparisons.get(variant["key"])
        if comparison is None:
            row += ["(control)", "", "", ""]
        else:
            low, high = comparison["absolute_ci"]
            rel_low, rel_high = comparison["relative_ci"]
            row += [
                f"{_pp(comparison['absolute_effect'])} [{_pp(low)}, {_pp(high)}]",
                f"{_pct(comparison['relative_effect'])} [{_pct(rel_low)}, {_pct(rel_high)}]",
                _p(comparison["p_value"]).removeprefix("p ").removeprefix("= "),
                "significant" if comparison["significant"] else "",
            ]
        rows.append(row)
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    lines = [
        f"Experiment {document['experiment']} · {document['metric']} · two-proportion z-test",
        "",
        "  ".join(cell.ljust(width) for cell, width in zip(header, widths)),
        "  ".join("-" * width for width in widths),
        *("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows),
        "",
        f"Verdict: {document['verdict']}",
    ]
    if document["multiple_exposures"]:
        lines.append(
            f"Excluded: {document['multiple_exposures']:,} units exposed to more than one variant"
        )
    return "\n".join(line.rstrip() for line in lines)


def _pp(value: float | None) -> str:
    """Percentage points; None is how JSON carries a NaN or infinite bound."""
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:+.2f}pp"


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.1%}"


def _p(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
