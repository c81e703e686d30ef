"""The typed results document: what `/v1/experiments/{key}/results` serves, and what the CLI
table and the dashboard render (decoded from that JSON, or built in the process).

One set of types is the contract: the JSON shape, the OpenAPI schema, the terminal table and
the page all come from these Structs, so every number a PM sees is one the API serves.
Non-finite effects and intervals travel as null; closed sets are Literals.
"""

from __future__ import annotations

import math

import msgspec

from experiments.analysis import (
    Comparison,
    Decision,
    ExperimentResult,
    GuardrailCheck,
    LiftPoint,
    MetricResult,
    MetricRole,
    VariantValue,
    Verdict,
)
from experiments.analysis_settings import Correction, Method
from experiments.comparison import Effect
from experiments.definitions import ExperimentStatus
from experiments.metrics import MetricKind
from experiments.stats import Alternative

__all__ = [
    "ResultDocument",
    "AnalysisDocument",
    "PlanDocument",
    "CupedDocument",
    "GuardrailHarmDocument",
    "VariantUnitsDocument",
    "SrmDocument",
    "MetricDocument",
    "VariantDocument",
    "ComparisonDocument",
    "SampleSizeDocument",
    "TimelineDocument",
    "LiftPointDocument",
    "result_document",
    "decode_result_document",
]

Interval = tuple[float | None, float | None]
"""(low, high); a bound that is not finite (no data, a zero control) is None."""


class AnalysisDocument(msgspec.Struct, frozen=True):
    """How the numbers were computed: the experiment's analysis settings and its MDE."""

    method: Method
    alpha: float
    correction: Correction
    cuped: bool
    power: float
    mde: float


class PlanDocument(msgspec.Struct, frozen=True):
    """Where the experiment stands against its plan (see `experiments.analysis.Plan`)."""

    planned_units_per_variant: int | None
    progress: float | None
    runtime_days: float
    min_runtime_days: int
    days_remaining: int | None
    target_effect: float
    tuning_units: float


class CupedDocument(msgspec.Struct, frozen=True):
    """What CUPED did: θ (within-arm slope of metric on covariate, = OLS ANCOVA), the share of
    the effect's variance it removed, and the within-arm metric–covariate correlation."""

    theta: float
    variance_reduction: float
    correlation: float


class GuardrailHarmDocument(msgspec.Struct, frozen=True):
    """A guardrail `metric` worse in `variant` beyond its margin: do not ship that variant."""

    metric: str
    name: str
    variant: str


class VariantUnitsDocument(msgspec.Struct, frozen=True):
    """A variant's configured weight and the units analysed in it."""

    key: str
    weight: float
    units: int


class SrmDocument(msgspec.Struct, frozen=True):
    """The sample ratio check; `mismatch` True suppresses every verdict."""

    p_value: float
    chi2: float
    expected_units: list[float]
    mismatch: bool


class VariantDocument(msgspec.Struct, frozen=True, omit_defaults=True):
    """One variant on one metric; `denominator_total` only for ratio metrics."""

    key: str
    units: int
    total: float
    value: float
    denominator_total: float | None = None


class ComparisonDocument(msgspec.Struct, frozen=True):
    """`variant` against `control`. p-values, `statistic` and `df` are None for Bayesian results
    (`df` None also means the normal reference), `chance_to_win` and `expected_loss` None for
    frequentist ones and when `degenerate` (an arm without variation: its numbers are not
    reliable); `significant` is True exactly for a win or a loss. Standard errors are those of
    the absolute and relative effects (posterior sds for Bayesian results). `guardrail` is set
    for guardrail metrics only."""

    variant: str
    control: str
    method: str
    cuped: bool
    control_mean: float
    treatment_mean: float
    absolute_effect: float | None
    absolute_ci: Interval
    relative_effect: float | None
    relative_ci: Interval
    p_value: float | None
    adjusted_p_value: float | None
    chance_to_win: float | None
    expected_loss: float | None
    significant: bool
    verdict: Verdict
    standard_error: float | None
    relative_standard_error: float | None
    statistic: float | None
    df: float | None
    degenerate: bool
    guardrail: GuardrailCheck | None
    cuped_diagnostics: CupedDocument | None


class SampleSizeDocument(msgspec.Struct, frozen=True):
    """Planning for the metric; None fields are not computable yet (no control data)."""

    relative_mde: float
    required_units_per_variant: int | None
    progress: float | None
    days_remaining: float | None


class MetricDocument(msgspec.Struct, frozen=True):
    """One metric's values (control first) and comparisons; `primary` mirrors `role` for old clients."""

    key: str
    name: str
    kind: MetricKind
    role: MetricRole
    primary: bool
    higher_is_better: bool
    alternative: Alternative
    margin: float | None
    variants: list[VariantDocument]
    comparisons: list[ComparisonDocument]
    sample_size: SampleSizeDocument


class LiftPointDocument(msgspec.Struct, frozen=True):
    """Relative lift for the units first exposed up to `day` (an ISO date)."""

    day: str
    relative_effect: float | None
    relative_ci: Interval


class TimelineDocument(msgspec.Struct, frozen=True):
    """Per ISO day (UTC, first exposure): units per variant; cumulative lift per metric and treatment."""

    days: list[str]
    exposures: dict[str, list[int]]
    cumulative_lift: dict[str, dict[str, list[LiftPointDocument]]]


class ResultDocument(msgspec.Struct, frozen=True):
    """An experiment's results. `decision` is the closed-set outcome (ship, dont_ship,
    keep_running, no_effect, blocked) and `reason` its one sentence; `summary` (JSON `verdict`)
    is the line a PM reads, headline and reason; `warnings` name numbers not to trust;
    `alpha` repeats `analysis.alpha` for older clients. Times are ISO 8601 (None: not yet)."""

    experiment: str
    name: str
    status: ExperimentStatus | None
    owner: str
    hypothesis: str
    started_at: str | None
    phase_started_at: str | None
    analysis: AnalysisDocument
    alpha: float
    summary: str = msgspec.field(name="verdict")
    decision: Decision
    reason: str
    plan: PlanDocument
    warnings: list[str]
    guardrail_harms: list[GuardrailHarmDocument]
    variants: list[VariantUnitsDocument]
    multiple_exposures: int
    srm: SrmDocument
    metrics: list[MetricDocument]
    timeline: TimelineDocument


_DECODER = msgspec.json.Decoder(ResultDocument)


def decode_result_document(body: bytes | str) -> ResultDocument:
    """A results document from the API's JSON; raises `msgspec.ValidationError` naming the field."""
    return _DECODER.decode(body)


def result_document(result: ExperimentResult) -> ResultDocument:
    """The document of an analysed experiment (the only constructor the server uses)."""
    settings, definition, plan = result.settings, result.definition, result.plan
    return ResultDocument(
        experiment=definition.key,
        name=definition.name,
        status=definition.status,
        owner=definition.owner,
        hypothesis=definition.hypothesis,
        started_at=None if definition.started_at is None else definition.started_at.isoformat(),
        phase_started_at=None if definition.phase_started_at is None else definition.phase_started_at.isoformat(),
        analysis=AnalysisDocument(settings.method, settings.alpha, settings.correction, settings.cuped,
                                  settings.power, definition.mde),
        alpha=settings.alpha,
        summary=result.summary,
        decision=result.decision,
        reason=result.reason,
        plan=PlanDocument(plan.planned_units_per_variant, plan.progress, plan.runtime_days, plan.min_runtime_days,
                          plan.days_remaining, plan.target_effect, plan.tuning_units),
        warnings=result.warnings,
        guardrail_harms=[GuardrailHarmDocument(metric.metric.key, metric.metric.label, comparison.variant)
                         for metric, comparison in result.guardrail_harms],
        variants=[VariantUnitsDocument(variant.key, variant.weight, result.units[variant.key])
                  for variant in result.definition.variants],
        multiple_exposures=result.multiple_exposures,
        srm=SrmDocument(result.srm.p_value, result.srm.chi2, list(result.srm.expected_units),
                        result.srm.is_mismatch),
        metrics=[_metric_document(metric) for metric in result.metrics],
        timeline=TimelineDocument(
            days=[day.isoformat() for day in result.timeline.days],
            exposures=result.timeline.exposures,
            cumulative_lift={
                metric: {variant: [_lift_point(point) for point in points] for variant, points in by_variant.items()}
                for metric, by_variant in result.timeline.cumulative_lift.items()
            },
        ),
    )


def _metric_document(result: MetricResult) -> MetricDocument:
    metric, size = result.metric, result.sample_size
    return MetricDocument(
        key=metric.key,
        name=metric.label,
        kind=metric.kind,
        role=result.role,
        primary=result.role == "primary",
        higher_is_better=metric.higher_is_better,
        alternative=result.alternative,
        margin=result.margin,
        variants=[_variant_document(value) for value in result.variants],
        comparisons=[_comparison_document(comparison) for comparison in result.comparisons],
        sample_size=SampleSizeDocument(size.relative_mde, size.required_units_per_variant, size.progress,
                                       size.days_remaining),
    )


def _variant_document(value: VariantValue) -> VariantDocument:
    return VariantDocument(value.variant, value.units, value.total, value.value, value.denominator_total)


def _comparison_document(comparison: Comparison) -> ComparisonDocument:
    effect = comparison.effect
    return ComparisonDocument(
        variant=comparison.variant,
        control=comparison.control,
        method=effect.method,
        cuped=effect.cuped,
        control_mean=effect.control_mean,
        treatment_mean=effect.treatment_mean,
        absolute_effect=_finite(effect.absolute_effect),
        absolute_ci=_interval(effect.absolute_ci),
        relative_effect=_finite(effect.relative_effect),
        relative_ci=_interval(effect.relative_ci),
        p_value=effect.p_value,
        adjusted_p_value=comparison.adjusted_p_value,
        chance_to_win=effect.chance_to_win,
        expected_loss=effect.expected_loss,
        significant=comparison.verdict in ("win", "loss"),
        verdict=comparison.verdict,
        standard_error=_finite(effect.standard_error),
        relative_standard_error=_finite(effect.relative_standard_error),
        statistic=None if effect.statistic is None else _finite(effect.statistic),
        df=None if effect.df is None else _finite(effect.df),
        degenerate=effect.degenerate,
        guardrail=comparison.guardrail,
        cuped_diagnostics=_cuped(effect),
    )


def _cuped(effect: Effect) -> CupedDocument | None:
    diagnostics = effect.cuped_diagnostics
    if diagnostics is None:
        return None
    return CupedDocument(diagnostics.theta, diagnostics.variance_reduction, diagnostics.correlation)


def _lift_point(point: LiftPoint) -> LiftPointDocument:
    return LiftPointDocument(point.day.isoformat(), _finite(point.relative_effect), _interval(point.relative_ci))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _interval(bounds: tuple[float, float]) -> Interval:
    return _finite(bounds[0]), _finite(bounds[1])
