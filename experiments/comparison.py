"""One treatment against the control on one metric: the right test for the metric and method.

Frequentist fixed horizon: two-proportion z-test (conversion), Welch (mean, count),
delta-method z-test (ratio), CUPED-adjusted Welch when a covariate is used. Sequential:
the asymptotic confidence sequence on the same per-arm estimates. Bayesian: the Gaussian
posterior of the relative effect. All numbers come from `experiments.stats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from experiments.analysis_settings import Method
from experiments.metrics import MetricKind
from experiments.queries import MetricSums
from experiments.stats import (
    DEFAULT_TUNING_UNITS,
    Alternative,
    ArmStats,
    CupedArmStats,
    CupedDiagnostics,
    EffectEstimate,
    EffectSummary,
    RatioArmStats,
    asymptotic_confidence_sequence,
    bayesian_effect_test,
    cuped_diagnostics,
    cuped_theta,
    cuped_ttest,
    proportion_ztest,
    ratio_ztest,
    welch_ttest,
)

__all__ = ["Effect", "compare", "arm_stats", "uses_cuped"]


@dataclass(frozen=True)
class Effect(EffectSummary):
    """Treatment − control. `p_value`, `statistic` and `df` (inf: normal reference) are None
    for Bayesian results, `chance_to_win` and `expected_loss` (of shipping the treatment,
    relative) are None for frequentist ones and for degenerate arms (an exact 0 or 1 there is
    an artefact). `cuped_diagnostics` is set exactly when CUPED adjusted the metric."""

    p_value: float | None
    statistic: float | None
    df: float | None
    chance_to_win: float | None
    expected_loss: float | None
    cuped: bool
    cuped_diagnostics: CupedDiagnostics | None


def uses_cuped(kind: MetricKind, cuped: bool) -> bool:
    """CUPED adjusts per-unit metrics; ratio metrics are analysed unadjusted."""
    return cuped and kind != "ratio"


def arm_stats(kind: MetricKind, sums: MetricSums) -> ArmStats | RatioArmStats:
    """The stats package's per-arm input for a metric's sums: RatioArmStats exactly for ratio metrics."""
    return _ratio_arm(sums) if kind == "ratio" else _unit_arm(sums, bernoulli=kind == "conversion")


def compare(
    kind: MetricKind,
    control: MetricSums,
    treatment: MetricSums,
    *,
    method: Method,
    alpha: float,
    cuped: bool,
    alternative: Alternative = "two-sided",
    tuning_units: float = DEFAULT_TUNING_UNITS,
) -> Effect:
    """Compare two arms of one metric with the configured method.

    `alternative` applies to the frequentist tests (the Bayesian chance to win is directional
    already); `tuning_units` is the sequential method's planned total sample (both arms).
    """
    if kind == "ratio":  # never CUPED-adjusted (`uses_cuped`)
        ratios = (_ratio_arm(control), _ratio_arm(treatment))
        if method == "fixed":
            return _frequentist(ratio_ztest(*ratios, alpha=alpha, alternative=alternative))
        return _not_fixed(method, ratios, alpha, alternative, tuning_units)
    if uses_cuped(kind, cuped):
        cuped_arms = (_cuped_arm(control), _cuped_arm(treatment))
        diagnostics = cuped_diagnostics(*cuped_arms)
        if method == "fixed":
            return _frequentist(cuped_ttest(*cuped_arms, alpha=alpha, alternative=alternative), diagnostics)
        return _not_fixed(method, _cuped_adjusted(*cuped_arms), alpha, alternative, tuning_units, diagnostics)
    bernoulli = kind == "conversion"
    arms = (_unit_arm(control, bernoulli=bernoulli), _unit_arm(treatment, bernoulli=bernoulli))
    if method != "fixed":
        return _not_fixed(method, arms, alpha, alternative, tuning_units)
    if bernoulli:
        return _frequentist(proportion_ztest(*arms, alpha=alpha, alternative=alternative))
    return _frequentist(welch_ttest(*arms, alpha=alpha, alternative=alternative))


def _not_fixed(
    method: Method,
    arms: tuple[ArmStats, ArmStats] | tuple[RatioArmStats, RatioArmStats],
    alpha: float,
    alternative: Alternative,
    tuning_units: float,
    diagnostics: CupedDiagnostics | None = None,
) -> Effect:
    if method == "sequential":
        estimate = asymptotic_confidence_sequence(*arms, alpha=alpha, alternative=alternative, tuning_units=tuning_units)
        return _frequentist(estimate, diagnostics)
    return _bayesian(*arms, alpha=alpha, diagnostics=diagnostics)


def _unit_arm(sums: MetricSums, *, bernoulli: bool = False) -> ArmStats:
    return ArmStats(sums.units, sums.value, sums.value_squares, bernoulli=bernoulli)


def _ratio_arm(sums: MetricSums) -> RatioArmStats:
    denominator = ArmStats(sums.units, sums.denominator, sums.denominator_squares)
    return RatioArmStats(_unit_arm(sums), denominator, sums.value_denominator)


def _cuped_arm(sums: MetricSums) -> CupedArmStats:
    return CupedArmStats(
        _unit_arm(sums),
        ArmStats(sums.units, sums.covariate, sums.covariate_squares),
        sums.value_covariate,
    )


def _cuped_adjusted(control: CupedArmStats, treatment: CupedArmStats) -> tuple[ArmStats, ArmStats]:
    """Sums of the adjusted per-unit values y − θ(x − x̄), x̄ pooled over both arms.

    Their means and variances are exactly those `cuped_ttest` uses, so the sequential and
    Bayesian methods get the same variance reduction.
    """
    theta = cuped_theta(control, treatment)
    units = control.units + treatment.units
    pooled = (control.covariate.sum + treatment.covariate.sum) / units if units else 0.0

    def adjusted(arm: CupedArmStats) -> ArmStats:
        centred_sum = arm.covariate.sum - arm.units * pooled
        centred_squares = arm.covariate.sum_squares - 2 * pooled * arm.covariate.sum + arm.units * pooled**2
        centred_cross = arm.cross_sum - pooled * arm.metric.sum
        return ArmStats(
            arm.units,
            arm.metric.sum - theta * centred_sum,
            arm.metric.sum_squares - 2 * theta * centred_cross + theta * theta * centred_squares,
        )

    return adjusted(control), adjusted(treatment)


def _frequentist(estimate: EffectEstimate, diagnostics: CupedDiagnostics | None = None) -> Effect:
    return _effect(estimate, p_value=estimate.p_value, statistic=estimate.statistic, df=estimate.df,
                   chance_to_win=None, expected_loss=None, diagnostics=diagnostics)


def _bayesian(
    control: ArmStats | RatioArmStats,
    treatment: ArmStats | RatioArmStats,
    *,
    alpha: float,
    diagnostics: CupedDiagnostics | None,
) -> Effect:
    relative = bayesian_effect_test(control, treatment, alpha=alpha)
    absolute = bayesian_effect_test(control, treatment, alpha=alpha, effect_scale="absolute")
    summary = EffectSummary(
        method="bayesian-gaussian" + ("-cuped" if diagnostics is not None else ""),
        control_mean=relative.control_mean,
        treatment_mean=relative.treatment_mean,
        absolute_effect=absolute.posterior_mean,
        absolute_ci=absolute.credible_interval,
        relative_effect=relative.posterior_mean,
        relative_ci=relative.credible_interval,
        standard_error=absolute.posterior_sd,
        relative_standard_error=relative.posterior_sd,
        degenerate=relative.degenerate,
    )
    trusted = not relative.degenerate
    return _effect(
        summary,
        p_value=None,
        statistic=None,
        df=None,
        chance_to_win=relative.chance_to_win if trusted and not math.isnan(relative.chance_to_win) else None,
        expected_loss=(relative.expected_loss_treatment
                       if trusted and not math.isnan(relative.expected_loss_treatment) else None),
        diagnostics=diagnostics,
    )


def _effect(
    summary: EffectSummary, *, p_value: float | None, statistic: float | None, df: float | None,
    chance_to_win: float | None, expected_loss: float | None, diagnostics: CupedDiagnostics | None,
) -> Effect:
    """`summary`'s fields (only those: not an estimate's alpha) with the rest of an `Effect`."""
    shared = {field.name: getattr(summary, field.name) for field in fields(EffectSummary)}
    return Effect(**shared, p_value=p_value, statistic=statistic, df=df, chance_to_win=chance_to_win,
                  expected_loss=expected_loss, cuped=diagnostics is not None, cuped_diagnostics=diagnostics)
