"""CUPED: variance reduction with a pre-exposure covariate (Deng et al. 2013).

θ convention: the within-arm (pooled within-group) regression slope of metric on covariate,
so the adjusted effect equals the treatment coefficient of OLS ANCOVA
``metric ~ treatment + covariate``. GrowthBook and Statsig use θ = cov(Y, X) / var(X) over
the pooled sample (Deng et al. 2013); the two agree up to the treatment effect's share of
the covariance, and both keep the estimate unbiased under randomisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._inference import ArmMean, difference_se
from .estimate import Alternative, EffectEstimate
from .sufficient_stats import CupedArmStats
from .welch_ttest import welch_comparison


@dataclass(frozen=True)
class CupedDiagnostics:
    """What the adjustment did: θ (within-arm slope), the share of the effect's variance it
    removed (1 − adjusted/unadjusted variance; 0 without information), and the within-arm
    metric–covariate correlation (0 when either does not vary)."""

    theta: float
    variance_reduction: float
    correlation: float


def cuped_theta(control: CupedArmStats, treatment: CupedArmStats) -> float:
    """Regression slope of metric on covariate, pooled within arms; 0 if it cannot vary.

    Pooling within arms makes the adjusted effect identical to the OLS coefficient of the
    treatment indicator in ``metric ~ treatment + covariate``.
    """
    co_variation, variation, _ = _within_arm_sums(control, treatment)
    return co_variation / variation if variation > 0 else 0.0


def _within_arm_sums(control: CupedArmStats, treatment: CupedArmStats) -> tuple[float, float, float]:
    """Centred (within-arm) cross products: Σxy, Σxx, Σyy summed over both arms."""
    arms = (control, treatment)
    return (
        sum(arm.cross_sum - arm.metric.sum * arm.covariate.mean for arm in arms),
        sum(arm.covariate.sum_squares - arm.covariate.sum * arm.covariate.mean for arm in arms),
        sum(arm.metric.sum_squares - arm.metric.sum * arm.metric.mean for arm in arms),
    )


def cuped_diagnostics(control: CupedArmStats, treatment: CupedArmStats) -> CupedDiagnostics:
    """θ, variance reduction and correlation of the CUPED adjustment ``cuped_ttest`` makes."""
    theta = cuped_theta(control, treatment)
    co_variation, covariate_variation, metric_variation = _within_arm_sums(control, treatment)
    spread = math.sqrt(max(covariate_variation, 0.0) * max(metric_variation, 0.0))
    adjusted = difference_se(*_adjusted_means(control, treatment, theta))
    unadjusted = difference_se(*_adjusted_means(control, treatment, 0.0))
    reduction = 1 - (adjusted / unadjusted) ** 2 if 0 < unadjusted < math.inf else 0.0
    return CupedDiagnostics(theta, reduction, co_variation / spread if spread > 0 else 0.0)


def _adjusted_means(control: CupedArmStats, treatment: CupedArmStats, theta: float) -> tuple[ArmMean, ArmMean]:
    """Both arms' means adjusted to the pooled covariate mean, with their variances."""
    units = control.units + treatment.units
    covariate_mean = (control.covariate.sum + treatment.covariate.sum) / units if units else 0.0
    return _adjusted(control, theta, covariate_mean), _adjusted(treatment, theta, covariate_mean)


def _adjusted(arm: CupedArmStats, theta: float, covariate_mean: float) -> ArmMean:
    if arm.units < 2:
        return ArmMean(arm.metric.mean, math.inf)
    residual_variance = (
        arm.metric.variance - 2 * theta * arm.covariance + theta * theta * arm.covariate.variance
    )
    return ArmMean(
        arm.metric.mean - theta * (arm.covariate.mean - covariate_mean),
        max(residual_variance, 0.0) / arm.units,
    )


def cuped_ttest(
    control: CupedArmStats,
    treatment: CupedArmStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> EffectEstimate:
    """Welch's t-test on covariate-adjusted means: same target, narrower interval.

    Means are adjusted to the pooled covariate mean, so they stay in metric units and the
    relative lift keeps its meaning. The interval shrinks by about sqrt(1 − ρ²) where ρ is
    the metric–covariate correlation; theta is treated as known (standard practice).
    """
    adjusted_control, adjusted_treatment = _adjusted_means(control, treatment, cuped_theta(control, treatment))
    return welch_comparison(
        "cuped-welch-ttest",
        adjusted_control,
        control.units,
        adjusted_treatment,
        treatment.units,
        alpha=alpha,
        alternative=alternative,
    )
