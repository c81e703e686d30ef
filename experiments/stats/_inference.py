"""Shared frequentist machinery: statistics, p-values, intervals and the delta-method lift.

Every method reduces its metric to one estimate per arm with the variance of that
estimate, then reports through ``effect_estimate`` so that degenerate inputs behave the
same way everywhere. ``df=inf`` means the normal reference distribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import get_args

from scipy import special

from .estimate import Alternative, EffectEstimate
from .sufficient_stats import ArmStats, RatioArmStats


@dataclass(frozen=True)
class ArmMean:
    """An arm's point estimate and the variance of that estimate (inf when unknown)."""

    mean: float
    variance: float


def arm_mean(stats: ArmStats | RatioArmStats) -> ArmMean:
    """Per-arm estimate of a mean metric (sample mean) or a ratio metric (delta method)."""
    if isinstance(stats, RatioArmStats):
        return ArmMean(stats.ratio, stats.ratio_variance)
    return ArmMean(stats.mean, stats.variance / stats.units if stats.units else math.inf)


def is_degenerate(*arms: ArmMean) -> bool:
    """True when some arm's estimate has zero variance: it would be treated as exact."""
    return any(arm.variance == 0 for arm in arms)


def check_alpha(alpha: float) -> None:
    """ValueError unless 0 < alpha < 1."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def check_test_options(alpha: float, alternative: str) -> None:
    """ValueError unless alpha is in (0, 1) and `alternative` is one the tests know."""
    check_alpha(alpha)
    if alternative not in get_args(Alternative):
        raise ValueError(f"alternative must be one of {get_args(Alternative)}, got {alternative!r}")


def standardized(difference: float, standard_error: float) -> float | None:
    """difference / standard_error: None without evidence, ±inf for certainty."""
    if math.isinf(standard_error) or (standard_error == 0 and difference == 0):
        return None
    if standard_error == 0:
        return math.copysign(math.inf, difference)
    return difference / standard_error


def wald_test(
    difference: float, standard_error: float, alternative: Alternative, df: float = math.inf
) -> tuple[float, float]:
    """(statistic, p-value) of a z (df=inf) or t test; (0, 1) without evidence."""
    statistic = standardized(difference, standard_error)
    if statistic is None:
        return (0.0, 1.0)
    return (statistic, t_p_value(statistic, alternative, df))


def t_p_value(statistic: float, alternative: Alternative, df: float = math.inf) -> float:
    """P-value of a z (df=inf) or t statistic."""
    if alternative == "greater":
        return float(special.stdtr(df, -statistic))
    if alternative == "less":
        return float(special.stdtr(df, statistic))
    return min(1.0, 2 * float(special.stdtr(df, -abs(statistic))))


def critical_value(alpha: float, alternative: Alternative, df: float = math.inf) -> float:
    """Quantile whose multiple of the standard error gives a 1 − alpha interval."""
    tail = alpha / 2 if alternative == "two-sided" else alpha
    return float(special.stdtrit(df, 1 - tail))


def interval(
    estimate: float, standard_error: float, critical: float, alternative: Alternative
) -> tuple[float, float]:
    """The (1 − alpha) interval of a Wald statistic: one-sided alternatives are open (±inf) on one end; NaN in, NaN
    out."""
    if math.isnan(estimate):
        return (math.nan, math.nan)
    half_width = 0.0 if standard_error == 0 else critical * standard_error
    lower = -math.inf if alternative == "less" else estimate - half_width
    upper = math.inf if alternative == "greater" else estimate + half_width
    return (lower, upper)


def relative_lift(control: ArmMean, treatment: ArmMean) -> tuple[float, float]:
    """treatment/control − 1 and its delta-method standard error (independent arms)."""
    if control.mean == 0:
        return (math.nan, math.nan)
    ratio = treatment.mean / control.mean
    spread = math.hypot(math.sqrt(treatment.variance), ratio * math.sqrt(control.variance))
    return (ratio - 1, spread / abs(control.mean))


def effect_estimate(
    method: str,
    control: ArmMean,
    treatment: ArmMean,
    *,
    statistic: float,
    p_value: float,
    critical: float,
    alpha: float,
    alternative: Alternative,
    df: float = math.inf,
) -> EffectEstimate:
    """Assemble the result, with intervals ``estimate ± critical × standard error``."""
    difference = treatment.mean - control.mean
    standard_error = difference_se(control, treatment)
    lift, lift_se = relative_lift(control, treatment)
    return EffectEstimate(
        method=method,
        control_mean=control.mean,
        treatment_mean=treatment.mean,
        absolute_effect=difference,
        absolute_ci=interval(difference, standard_error, critical, alternative),
        relative_effect=lift,
        relative_ci=interval(lift, lift_se, critical, alternative),
        standard_error=standard_error,
        relative_standard_error=lift_se,
        degenerate=is_degenerate(control, treatment),
        p_value=p_value,
        statistic=statistic,
        df=df,
        alpha=alpha,
        alternative=alternative,
    )


def difference_se(control: ArmMean, treatment: ArmMean) -> float:
    """Standard error of treatment − control for independent arms."""
    return math.sqrt(control.variance + treatment.variance)


def wald_comparison(
    method: str,
    control: ArmMean,
    treatment: ArmMean,
    *,
    alpha: float,
    alternative: Alternative,
    df: float = math.inf,
    test_standard_error: float | None = None,
) -> EffectEstimate:
    """Fixed-horizon z (df=inf) or t comparison of two independent arm estimates.

    ``test_standard_error`` replaces the unpooled one in the test only (pooled under H0).
    """
    check_test_options(alpha, alternative)
    statistic, p_value = wald_test(
        treatment.mean - control.mean,
        difference_se(control, treatment) if test_standard_error is None else test_standard_error,
        alternative,
        df,
    )
    return effect_estimate(
        method,
        control,
        treatment,
        statistic=statistic,
        p_value=p_value,
        critical=critical_value(alpha, alternative, df),
        alpha=alpha,
        alternative=alternative,
        df=df,
    )
