"""From per-variant, per-day sums to an experiment result a PM can act on.

Every treatment is compared with the control on every metric. The decision rule
(`DecisionRule`, Spotify's "risk-aware" model) turns the comparisons into one of ship /
don't ship / keep running / no detectable effect, each with a one-sentence reason: the
primary metric must beat control, guardrails must stay within their non-inferiority
margins, the minimum runtime must have passed, and a fixed-horizon test is not read before
its planned sample. A sample ratio mismatch blocks every verdict.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from experiments.analysis_settings import AnalysisSettings
from experiments.comparison import Effect, compare
from experiments.definitions import ExperimentDefinition
from experiments.formatting import format_relative_interval
from experiments.metrics import MetricDefinition
from experiments.planning import SampleSize, sample_size
from experiments.queries import ExperimentSums, MetricSums
from experiments.stats import (
    DEFAULT_TUNING_UNITS,
    Alternative,
    SrmResult,
    benjamini_hochberg,
    bonferroni,
    estimated_days_remaining,
    holm,
    srm_test,
)

__all__ = [
    "Verdict",
    "Decision",
    "DECISION_HEADLINES",
    "GuardrailCheck",
    "Plan",
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

Decision = Literal["ship", "dont_ship", "keep_running", "no_effect", "blocked"]
"""What the experiment as a whole says. blocked: a sample ratio mismatch, nothing can be trusted;
dont_ship: the primary metric or a guardrail is harmed (beyond its margin); keep_running: too
early (runtime, planned sample) or not yet conclusive; no_effect: at the planned sample the
primary's interval rules out the target effect, so stop; ship: the primary beats control and
every guardrail is within its margin."""

GuardrailCheck = Literal["harmed", "within_margin", "undetermined", "no_harm_detected"]
"""A guardrail comparison against its margin m (relative, in the metric's bad direction):
harmed: the whole interval is worse than −m (m = 0 without a margin: significantly worse);
within_margin: the whole interval is better than −m (non-inferior); undetermined: neither;
no_harm_detected: no margin set and not harmed (the guardrail only watches for harm)."""

DECISION_HEADLINES: dict[Decision, str] = {"ship": "Ship", "dont_ship": "Don't ship", "keep_running": "Keep running",
                                           "no_effect": "No detectable effect — stop",
                                           "blocked": "No verdict (sample ratio mismatch)"}
"""What a PM reads first, before the reason."""

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
    guardrail: GuardrailCheck | None = None
    """Set for guardrail metrics only."""


@dataclass(frozen=True)
class MetricResult:
    """One metric: a value per variant (control first) and a comparison per treatment."""

    metric: MetricDefinition
    role: MetricRole
    variants: list[VariantValue]
    comparisons: list[Comparison]
    sample_size: SampleSize
    alternative: Alternative = "two-sided"
    margin: float | None = None
    """A guardrail's relative non-inferiority margin (None: it only watches for harm)."""


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
class Plan:
    """Where the experiment stands against its plan.

    `planned_units_per_variant` is the decision rule's, else the primary metric's power
    calculation (None: not computable yet); `progress` is the smallest variant's share of it
    (capped at 1); `days_remaining` the whole days until both the planned sample (at the
    traffic so far) and the minimum runtime are reached (None: unknown, e.g. an arm without
    traffic); `tuning_units` the total sample the sequential method is tuned to.
    """

    planned_units_per_variant: int | None
    progress: float | None
    runtime_days: float
    min_runtime_days: int
    days_remaining: int | None
    target_effect: float
    tuning_units: float


@dataclass(frozen=True)
class ExperimentResult:
    """The analysed experiment: `decision` is the closed-set outcome, `reason` its one sentence,
    `summary` the line a PM reads (headline and reason); `warnings` say which numbers not to trust."""

    definition: ExperimentDefinition
    settings: AnalysisSettings
    units: dict[str, int]
    multiple_exposures: int
    srm: SrmResult
    metrics: list[MetricResult]
    timeline: Timeline
    plan: Plan
    decision: Decision
    reason: str
    warnings: list[str]

    @property
    def summary(self) -> str:
        """The headline of the decision and its reason, e.g. "Keep running (about 5 more days): …"."""
        headline = DECISION_HEADLINES[self.decision]
        if self.decision == "keep_running" and self.plan.days_remaining:
            days = self.plan.days_remaining
            headline += f" (about {days} more day{'s' * (days != 1)})"
        return f"{headline}: {self.reason}"

    @property
    def guardrail_harms(self) -> list[tuple[MetricResult, Comparison]]:
        """(guardrail, comparison) pairs harmed beyond their margin: each one says do not ship."""
        return _guardrail_harms(self.metrics)


def analyse(
    definition: ExperimentDefinition,
    metrics: Sequence[MetricDefinition],
    sums: ExperimentSums,
    settings: AnalysisSettings,
    guardrails: Sequence[MetricDefinition] = (),
    as_of: dt.datetime | None = None,
) -> ExperimentResult:
    """The whole result; `sums` holds `metrics` (primary first), then `guardrails`.

    The runtime counts from the phase start to `as_of` (the stop time, else now) when both
    are known, else the days with exposures. The multiple-comparison correction runs over
    the decision metrics only; guardrail p-values are left unadjusted (their "adjusted"
    p-value is the raw one). A guardrail exists to catch harm, so correcting it would trade
    missed harm for fewer false alarms, the wrong way round; and adding guardrails must not
    weaken the decision metrics' power. This is GrowthBook's and Eppo's practice.
    """
    rule = definition.decision
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
    sizes = [sample_size(metric.kind, [totals[v][index] for v in variants], definition.mde, settings,
                         days_elapsed=len(days), alternative=rule.rule(metric.key).alternative)
             for index, metric in enumerate(analysed)]
    planned = rule.planned_units_per_variant or (sizes[0].required_units_per_variant if sizes else None)
    tuning = 2.0 * planned if planned else float(DEFAULT_TUNING_UNITS)

    def comparison_of(metric: MetricDefinition, control: MetricSums, treatment: MetricSums) -> Effect:
        return compare(metric.kind, control, treatment, method=settings.method, alpha=settings.alpha,
                       cuped=settings.cuped, alternative=rule.rule(metric.key).alternative, tuning_units=tuning)

    effects = {
        (index, variant): comparison_of(metric, totals[variants[0]][index], totals[variant][index])
        for index, metric in enumerate(analysed)
        for variant in variants[1:]
    }
    p_values = {key: effect.p_value for key, effect in effects.items()}
    deciding = {key: p for key, p in p_values.items() if roles[key[0]] != "guardrail"}
    adjusted = p_values | adjust_p_values(deciding, settings)
    results = []
    for index, (metric, role) in enumerate(zip(analysed, roles)):
        margin = rule.rule(metric.key).margin if role == "guardrail" else None
        comparisons = []
        for variant in variants[1:]:
            effect = effects[index, variant]
            verdict = verdict_of(effect, adjusted[index, variant], metric, settings.alpha, srm)
            check = guardrail_check(effect, verdict, metric, margin) if role == "guardrail" else None
            comparisons.append(Comparison(variant, variants[0], effect, adjusted[index, variant], verdict, check))
        results.append(MetricResult(
            metric, role, [_variant_value(metric, variant, totals[variant][index]) for variant in variants],
            comparisons, sizes[index], rule.rule(metric.key).alternative, margin,
        ))
    plan = _plan(definition, planned, [units[v] for v in variants if _weight(definition, v) > 0], days, as_of, tuning)
    decision, reason = _decide(results, srm, {v: units[v] for v in variants if _weight(definition, v) > 0}, plan,
                               settings)
    return ExperimentResult(
        definition=definition,
        settings=settings,
        units=units,
        multiple_exposures=sums.multiple_exposures,
        srm=srm,
        metrics=results,
        timeline=_timeline(analysed, variants, sums, cumulative, days, comparison_of),
        plan=plan,
        decision=decision,
        reason=reason,
        warnings=_warnings(definition, units, results),
    )


def adjust_p_values(
    p_values: dict[tuple[int, str], float | None], settings: AnalysisSettings
) -> dict[tuple[int, str], float | None]:
    """Holm, Bonferroni or Benjamini–Hochberg over every comparison that has a p-value."""
    present = {key: p_value for key, p_value in p_values.items() if p_value is not None}
    keys, raw = list(present), list(present.values())
    corrections = {"holm": holm, "bonferroni": bonferroni, "bh": benjamini_hochberg}
    correction = corrections.get(settings.correction)
    adjusted = tuple(raw) if correction is None or not raw else correction(raw)
    return {key: None for key in p_values} | dict(zip(keys, adjusted))


def verdict_of(
    effect: Effect, adjusted_p_value: float | None, metric: MetricDefinition, alpha: float, srm: SrmResult
) -> Verdict:
    """Win or loss only with evidence in `metric`'s good or bad direction; never under SRM, nor
    when an arm is degenerate (its zero variance would make the evidence look certain)."""
    if srm.is_mismatch:
        return "suppressed"
    if effect.degenerate:
        return "inconclusive"
    if effect.chance_to_win is not None:
        better = effect.chance_to_win if metric.higher_is_better else 1 - effect.chance_to_win
        return "win" if better >= 1 - alpha else "loss" if better <= alpha else "inconclusive"
    if adjusted_p_value is None or adjusted_p_value >= alpha or effect.absolute_effect == 0:
        return "inconclusive"
    return "win" if (effect.absolute_effect > 0) == metric.higher_is_better else "loss"


def guardrail_check(effect: Effect, verdict: Verdict, metric: MetricDefinition, margin: float | None) -> GuardrailCheck:
    """Where a guardrail's relative interval lies against its margin (see `GuardrailCheck`).

    Without a margin a guardrail is harmed exactly when its verdict is a loss (unadjusted
    p-value, or chance to win, in the bad direction).
    """
    if verdict == "suppressed" or effect.degenerate:
        return "undetermined" if margin is not None else "no_harm_detected"
    if margin is None:
        return "harmed" if verdict == "loss" else "no_harm_detected"
    low, high = effect.relative_ci
    if math.isnan(low) or math.isnan(high):
        return "undetermined"
    worst, best = (low, high) if metric.higher_is_better else (-high, -low)
    if best < -margin:
        return "harmed"
    return "within_margin" if worst > -margin else "undetermined"


def _weight(definition: ExperimentDefinition, variant: str) -> float:
    return next(v.weight for v in definition.variants if v.key == variant)


def _plan(
    definition: ExperimentDefinition,
    planned: int | None,
    units: list[int],
    days: list[dt.date],
    as_of: dt.datetime | None,
    tuning: float,
) -> Plan:
    rule = definition.decision
    started = definition.phase_started_at
    end = definition.stopped_at or as_of
    runtime = (end - started).total_seconds() / 86400 if started is not None and end is not None else float(len(days))
    runtime = max(runtime, 0.0)
    progress = min(1.0, min(units, default=0) / planned) if planned else None
    to_runtime = max(rule.runtime_days - runtime, 0.0)
    if planned is None:
        remaining: float | None = None
    elif units:  # traffic per calendar day with exposures, at least: a burst in one hour is one day's traffic
        to_sample = estimated_days_remaining(planned, units, max(runtime, float(len(days)), 1.0))
        remaining = max(to_sample, to_runtime) if math.isfinite(to_sample) else None
    else:
        remaining = None
    return Plan(planned, progress, runtime, rule.runtime_days, None if remaining is None else math.ceil(remaining),
                rule.target_effect or definition.mde, tuning)


def _decide(
    results: list[MetricResult], srm: SrmResult, units: dict[str, int], plan: Plan, settings: AnalysisSettings
) -> tuple[Decision, str]:
    """The decision and its one-sentence reason, in the order the rule is applied; `units` of
    the variants with traffic, in the SRM test's order."""
    if srm.is_mismatch:
        observed = ", ".join(f"{variant} {count:,}" for variant, count in units.items())
        expected = ", ".join(f"{want:,.0f}" for want in srm.expected_units)
        return "blocked", (f"sample ratio mismatch (p = {srm.p_value:.2g}): units {observed} vs expected {expected}, "
                           "so the split is not the configured one and no result can be trusted; fix assignment or "
                           "logging first.")
    if not any(units.values()) or not results:
        return "keep_running", "no exposures yet."
    primary, guardrails = results[0], [r for r in results if r.role == "guardrail"]
    label = primary.metric.label
    variants = [c.variant for c in primary.comparisons]
    harms = {v: _harm(v, primary, guardrails) for v in variants}
    if all(harms.values()):
        return "dont_ship", next(reason for reason in harms.values() if reason)
    progress = plan.progress
    if settings.method == "fixed" and (progress is None or progress < 1):
        share = "the planned sample is not known yet" if progress is None else f"{progress:.0%} of planned sample"
        return "keep_running", f"too early to call: {share} on a fixed-horizon test."
    if plan.runtime_days < plan.min_runtime_days:
        return "keep_running", (f"minimum runtime not reached: {math.floor(plan.runtime_days)} of "
                                f"{plan.min_runtime_days} days.")
    open_variants = [c for c in primary.comparisons if not harms[c.variant]]
    if any(c.effect.degenerate for c in open_variants):
        return "keep_running", f"an arm has no variation on {label} yet, so its interval cannot be trusted."
    wins = [c for c in open_variants if c.verdict == "win"]
    if wins:
        best = max(wins, key=lambda c: c.effect.relative_effect if math.isfinite(c.effect.relative_effect) else 0)
        worse = sorted({r.metric.label for r in results if r.role == "secondary" for c in r.comparisons
                        if c.variant == best.variant and c.verdict == "loss"})
        caveat = f", though worse on {', '.join(worse)}" if worse else ""
        claim = f"{best.variant} beats {best.control} on {label} ({_evidence(best)}){caveat}"
        pending = [r for r in guardrails for c in r.comparisons if c.variant == best.variant
                   and c.guardrail == "undetermined"]
        if not pending:
            margins = [r for r in guardrails if r.margin is not None]
            return "ship", claim + (" and every guardrail is within its margin." if margins else ".")
        named = f"guardrail {pending[0].metric.label} is not yet shown within its {pending[0].margin:.0%} margin"
        if settings.method != "fixed" and (progress is None or progress < 1):
            return "keep_running", f"{claim}, but {named}."
        return "dont_ship", f"{claim}, but at the planned sample {named}."
    if progress is not None and progress >= 1:
        if all(_rules_out(c, primary.metric, plan.target_effect) for c in open_variants):
            if primary.alternative != "two-sided":
                return "no_effect", f"at the planned sample the one-sided test on {label} is not significant."
            return "no_effect", (f"at the planned sample the interval on {label} rules out the "
                                 f"{plan.target_effect:+.0%} target.")
        return "keep_running", (f"no significant difference on {label} at the planned sample, but the interval "
                                f"still includes the {plan.target_effect:+.0%} target (noisier than planned).")
    share = "" if progress is None else f" ({progress:.0%} of planned sample)"
    return "keep_running", f"no significant difference on {label} yet{share}."


def _harm(variant: str, primary: MetricResult, guardrails: list[MetricResult]) -> str:
    """Why `variant` must not ship (the primary or a guardrail harmed), or '' when it may."""
    comparison = next(c for c in primary.comparisons if c.variant == variant)
    if comparison.verdict == "loss":
        return f"{variant} is worse than {comparison.control} on {primary.metric.label} ({_evidence(comparison)})."
    for guardrail in guardrails:
        for c in guardrail.comparisons:
            if c.variant == variant and c.guardrail == "harmed":
                worse = ("significantly worse" if guardrail.margin is None
                         else f"worse beyond its {guardrail.margin:.0%} margin")
                return f"guardrail {guardrail.metric.label} is {worse} in {variant} ({_evidence(c)})."
    return ""


def _rules_out(comparison: Comparison, metric: MetricDefinition, target: float) -> bool:
    """True when the relative interval excludes an improvement of `target` in the good direction.

    A one-sided interval open on the good side cannot exclude it: there the one-sided test
    at its planned sample is the rule, and not significant means no detectable effect.
    """
    low, high = comparison.effect.relative_ci
    bound = high if metric.higher_is_better else -low
    return math.isinf(bound) or bound < target


def _guardrail_harms(results: list[MetricResult]) -> list[tuple[MetricResult, Comparison]]:
    return [(r, c) for r in results if r.role == "guardrail" for c in r.comparisons if c.guardrail == "harmed"]


def _warnings(definition: ExperimentDefinition, units: dict[str, int], results: list[MetricResult]) -> list[str]:
    """What not to trust: variants without traffic, and comparisons with a degenerate arm."""
    warnings = []
    if any(units.values()):
        warnings += [f"{v.key} has no units yet although its weight is {v.weight:g}."
                     for v in definition.variants if v.weight > 0 and units[v.key] == 0]
    for result in results:
        for c in result.comparisons:
            if c.effect.degenerate and units[c.variant] and units[c.control]:
                warnings.append(f"{result.metric.label}: {c.variant} or {c.control} has no variation, so the "
                                "interval and chance to win are not reliable and no verdict is given.")
    return warnings


def _evidence(comparison: Comparison) -> str:
    """The relative lift with its interval, and the p-value or chance to beat control."""
    effect = comparison.effect
    lift = format_relative_interval(*(v if math.isfinite(v) else None
                                      for v in (effect.relative_effect, *effect.relative_ci)))
    if effect.chance_to_win is not None:
        return f"{lift}, chance to beat control {effect.chance_to_win:.1%}"
    p_value = comparison.adjusted_p_value if comparison.adjusted_p_value is not None else 1.0
    return f"{lift}, " + ("p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}")


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
    comparison_of: Callable[[MetricDefinition, MetricSums, MetricSums], Effect],
) -> Timeline:
    units = {(d.variant, d.day): d.units for d in sums.days}
    lift: dict[str, dict[str, list[LiftPoint]]] = {metric.key: {} for metric in metrics}
    for index, metric in enumerate(metrics):
        control = cumulative[variants[0]][index]
        for variant in variants[1:]:
            points = []
            for day, control_sums, treatment_sums in zip(days, control, cumulative[variant][index]):
                effect = comparison_of(metric, control_sums, treatment_sums)
                points.append(LiftPoint(day, effect.relative_effect, effect.relative_ci))
            lift[metric.key][variant] = points
    return Timeline(
        days=days,
        exposures={variant: [units.get((variant, day), 0) for day in days] for variant in variants},
        cumulative_lift=lift,
    )
