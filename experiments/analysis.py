"""From per-variant, per-day sums to an experiment result a PM can act on.

Every treatment is compared with the control on every metric. Decision metrics (the
primary and the secondaries) decide the winner; guardrail metrics only watch for harm and
can veto shipping. A sample ratio mismatch suppresses every verdict.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from experiments.analysis_settings import AnalysisSettings
from experiments.comparison import Effect, compare
from experiments.definitions import ExperimentDefinition
from experiments.metrics import MetricDefinition
from experiments.planning import SampleSize, sample_size
from experiments.queries import ExperimentSums, MetricSums
from experiments.stats import SrmResult, benjamini_hochberg, holm, srm_test

__all__ = [
    "Verdict",
    "Decision",
    "MetricRole",
    "VariantValue",
    "Comparison",
    "MetricResult",
    "LiftPoint",
    "Timeline",
    "ExperimentResult",
    "analyse",
    "verdict_of",
    "adjust_p_values",
]

Verdict = Literal["win", "loss", "inconclusive", "suppressed"]
"""suppressed: a sample ratio mismatch makes every comparison untrustworthy."""

Decision = Literal["win", "loss", "inconclusive", "guardrail_harm", "sample_ratio_mismatch", "no_exposures"]
"""What the experiment as a whole says, in the order it is decided: a sample ratio mismatch or no
exposures leave nothing to decide; a harmed guardrail vetoes shipping whatever the primary says;
otherwise the primary metric's win, loss or nothing significant (`inconclusive`)."""

MetricRole = Literal["primary", "secondary", "guardrail"]
"""primary decides the winner, secondaries qualify it, guardrails can only veto shipping."""


@dataclass(frozen=True)
class VariantValue:
    """One variant on one metric: units, the numerator total, and the value per unit (or ratio)."""

    variant: str
    units: int
    total: float
    value: float
    denominator_total: float | None


@dataclass(frozen=True)
class Comparison:
    """One treatment against the control on one metric; `verdict` is never a win or loss under SRM."""

    variant: str
    control: str
    effect: Effect
    adjusted_p_value: float | None
    verdict: Verdict


@dataclass(frozen=True)
class MetricResult:
    """One metric: a value per variant (control first) and a comparison per treatment."""

    metric: MetricDefinition
    role: MetricRole
    variants: list[VariantValue]
    comparisons: list[Comparison]
    sample_size: SampleSize


@dataclass(frozen=True)
class LiftPoint:
    """The relative lift of one variant on one metric for units exposed up to `day`."""

    day: dt.date
    relative_effect: float
    relative_ci: tuple[float, float]


@dataclass(frozen=True)
class Timeline:
    """Daily (UTC, by first exposure) units per variant and cumulative lift per metric."""

    days: list[dt.date]
    exposures: dict[str, list[int]]
    cumulative_lift: dict[str, dict[str, list[LiftPoint]]]


@dataclass(frozen=True)
class ExperimentResult:
    """The analysed experiment: `decision` is the closed-set outcome, `summary` the sentence a PM reads."""

    definition: ExperimentDefinition
    settings: AnalysisSettings
    units: dict[str, int]
    multiple_exposures: int
    srm: SrmResult
    metrics: list[MetricResult]
    timeline: Timeline
    decision: Decision
    summary: str

    @property
    def guardrail_harms(self) -> list[tuple[MetricResult, Comparison]]:
        """(guardrail, comparison) pairs showing significant harm: each one says do not ship."""
        return _guardrail_harms(self.metrics)


def analyse(
    definition: ExperimentDefinition,
    metrics: Sequence[MetricDefinition],
    sums: ExperimentSums,
    settings: AnalysisSettings,
    guardrails: Sequence[MetricDefinition] = (),
) -> ExperimentResult:
    """The whole result; `sums` holds `metrics` (primary first), then `guardrails`.

    The multiple-comparison correction runs over the decision metrics only; guardrail
    p-values are left unadjusted (their "adjusted" p-value is the raw one). A guardrail
    exists to catch harm, so correcting it would trade missed harm for fewer false alarms,
    the wrong way round; and adding guardrails must not weaken the decision metrics'
    power. This is GrowthBook's and Eppo's practice.
    """
    variants = [variant.key for variant in definition.variants]
    analysed = [*metrics, *guardrails]
    roles: list[MetricRole] = ["primary" if i == 0 else "secondary" for i in range(len(metrics))]
    roles += ["guardrail"] * len(guardrails)
    days = _all_days(sums)
    cumulative = {
        variant: [_cumulative(sums, variant, index, days) for index in range(len(analysed))]
        for variant in variants
    }
    totals = {variant: [daily[-1] if daily else MetricSums() for daily in cumulative[variant]] for variant in variants}
    units = {variant: totals[variant][0].units if analysed else 0 for variant in variants}
    srm = _srm(definition, units)
    effects = {
        (index, variant): compare(metric.kind, totals[variants[0]][index], totals[variant][index],
                                  method=settings.method, alpha=settings.alpha, cuped=settings.cuped)
        for index, metric in enumerate(analysed)
        for variant in variants[1:]
    }
    p_values = {key: effect.p_value for key, effect in effects.items()}
    decision = {key: p for key, p in p_values.items() if roles[key[0]] != "guardrail"}
    adjusted = p_values | adjust_p_values(decision, settings)
    results = []
    for index, (metric, role) in enumerate(zip(analysed, roles)):
        comparisons = [
            Comparison(
                variant,
                variants[0],
                effects[index, variant],
                adjusted[index, variant],
                verdict_of(effects[index, variant], adjusted[index, variant], metric, settings.alpha, srm),
            )
            for variant in variants[1:]
        ]
        results.append(
            MetricResult(
                metric,
                role,
                [_variant_value(metric, variant, totals[variant][index]) for variant in variants],
                comparisons,
                sample_size(metric.kind, [totals[v][index] for v in variants], definition.mde, settings,
                            days_elapsed=len(days)),
            )
        )
    outcome, summary = _experiment_decision(results, srm, sum(units.values()))
    return ExperimentResult(
        definition=definition,
        settings=settings,
        units=units,
        multiple_exposures=sums.multiple_exposures,
        srm=srm,
        metrics=results,
        timeline=_timeline(analysed, variants, sums, cumulative, days, settings),
        decision=outcome,
        summary=summary,
    )


def adjust_p_values(
    p_values: dict[tuple[int, str], float | None], settings: AnalysisSettings
) -> dict[tuple[int, str], float | None]:
    """Holm or Benjamini–Hochberg over every comparison that has a p-value."""
    present = {key: p_value for key, p_value in p_values.items() if p_value is not None}
    keys, raw = list(present), list(present.values())
    if settings.correction == "holm":
        adjusted = holm(raw) if raw else ()
    elif settings.correction == "bh":
        adjusted = benjamini_hochberg(raw) if raw else ()
    else:
        adjusted = tuple(raw)
    return {key: None for key in p_values} | dict(zip(keys, adjusted))


def verdict_of(
    effect: Effect, adjusted_p_value: float | None, metric: MetricDefinition, alpha: float, srm: SrmResult
) -> Verdict:
    """Win or loss only with evidence in `metric`'s good or bad direction, never under SRM."""
    if srm.is_mismatch:
        return "suppressed"
    if effect.chance_to_win is not None:
        better = effect.chance_to_win if metric.higher_is_better else 1 - effect.chance_to_win
        return "win" if better >= 1 - alpha else "loss" if better <= alpha else "inconclusive"
    if adjusted_p_value is None or adjusted_p_value >= alpha or effect.absolute_effect == 0:
        return "inconclusive"
    return "win" if (effect.absolute_effect > 0) == metric.higher_is_better else "loss"


def _experiment_decision(results: list[MetricResult], srm: SrmResult, units: int) -> tuple[Decision, str]:
    if srm.is_mismatch:
        return "sample_ratio_mismatch", (
            f"Sample ratio mismatch (p = {srm.p_value:.2g}): the traffic split differs from the "
            "configured weights, so no result can be trusted. Fix assignment or logging first.")
    if units == 0 or not results:
        return "no_exposures", "No exposures yet."
    harms = _guardrail_harms(results)
    veto = "".join(f"Guardrail {metric.metric.label} is worse in {c.variant} ({_evidence(c)}): do not ship. "
                   for metric, c in harms)
    decision, sentence = _primary_decision(results)
    return ("guardrail_harm" if harms else decision), veto + sentence


def _primary_decision(results: list[MetricResult]) -> tuple[Decision, str]:
    """What the primary metric says, with the secondaries that got worse as a caveat."""
    primary = results[0]
    label = primary.metric.label
    wins = [c for c in primary.comparisons if c.verdict == "win"]
    losses = [c for c in primary.comparisons if c.verdict == "loss"]
    worse = sorted({r.metric.label for r in results if r.role == "secondary" for c in r.comparisons
                    if c.verdict == "loss"})
    caveat = f"; but worse on {', '.join(worse)}" if worse else ""
    if wins:
        best = max(wins, key=lambda c: c.effect.relative_effect if math.isfinite(c.effect.relative_effect) else 0)
        return "win", f"{best.variant} beats {best.control} on {label} ({_evidence(best)}){caveat}"
    if losses:
        worst = losses[0]
        return "loss", f"{worst.variant} is worse than {worst.control} on {label} ({_evidence(worst)}){caveat}"
    progress = primary.sample_size.progress
    planned = f" ({progress:.0%} of the planned sample)" if progress is not None and progress < 1 else ""
    return "inconclusive", f"No significant difference yet on {label}{planned}{caveat}"


def _guardrail_harms(results: list[MetricResult]) -> list[tuple[MetricResult, Comparison]]:
    return [(r, c) for r in results if r.role == "guardrail" for c in r.comparisons if c.verdict == "loss"]


def _evidence(comparison: Comparison) -> str:
    if comparison.effect.chance_to_win is not None:
        return f"chance to beat control {comparison.effect.chance_to_win:.1%}"
    p_value = comparison.adjusted_p_value if comparison.adjusted_p_value is not None else 1.0
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def _variant_value(metric: MetricDefinition, variant: str, sums: MetricSums) -> VariantValue:
    if metric.kind == "ratio":
        value = sums.value / sums.denominator if sums.denominator else 0.0
        return VariantValue(variant, sums.units, sums.value, value, sums.denominator)
    return VariantValue(variant, sums.units, sums.value, sums.value / sums.units if sums.units else 0.0, None)


def _all_days(sums: ExperimentSums) -> list[dt.date]:
    """Every day from the first to the last exposure, gaps included."""
    if not sums.days:
        return []
    first, last = min(d.day for d in sums.days), max(d.day for d in sums.days)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def _srm(definition: ExperimentDefinition, units: dict[str, int]) -> SrmResult:
    """Chi-square of units against the designed weights of the variants that get traffic."""
    weighted = [variant for variant in definition.variants if variant.weight > 0]
    if len(weighted) < 2:
        return SrmResult(p_value=1.0, chi2=0.0, df=0, expected_units=())
    return srm_test([units[v.key] for v in weighted], [v.weight for v in weighted])


def _cumulative(sums: ExperimentSums, variant: str, index: int, days: list[dt.date]) -> list[MetricSums]:
    """Sums of the units first exposed up to and including each day."""
    by_day = {daily.day: daily.metrics[index] for daily in sums.days if daily.variant == variant}
    running, result = MetricSums(), []
    for day in days:
        running = running + by_day.get(day, MetricSums())
        result.append(running)
    return result


def _timeline(
    metrics: Sequence[MetricDefinition],
    variants: list[str],
    sums: ExperimentSums,
    cumulative: dict[str, list[list[MetricSums]]],
    days: list[dt.date],
    settings: AnalysisSettings,
) -> Timeline:
    units = {(d.variant, d.day): d.units for d in sums.days}
    lift: dict[str, dict[str, list[LiftPoint]]] = {metric.key: {} for metric in metrics}
    for index, metric in enumerate(metrics):
        control = cumulative[variants[0]][index]
        for variant in variants[1:]:
            points = []
            for day, control_sums, treatment_sums in zip(days, control, cumulative[variant][index]):
                effect = compare(metric.kind, control_sums, treatment_sums,
                                 method=settings.method, alpha=settings.alpha, cuped=settings.cuped)
                points.append(LiftPoint(day, effect.relative_effect, effect.relative_ci))
            lift[metric.key][variant] = points
    return Timeline(
        days=days,
        exposures={variant: [units.get((variant, day), 0) for day in days] for variant in variants},
        cumulative_lift=lift,
    )
