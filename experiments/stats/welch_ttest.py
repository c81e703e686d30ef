"""Welch's unequal-variance t-test for mean metrics (scipy ``ttest_ind_from_stats``)."""

from __future__ import annotations

import math

from ._inference import ArmMean, arm_mean, wald_comparison
from .estimate import Alternative, EffectEstimate
from .sufficient_stats import ArmStats


def welch_satterthwaite_df(
    control: ArmMean, control_units: int, treatment: ArmMean, treatment_units: int
) -> float:
    """Degrees of freedom of the difference of two means; inf when undefined."""
    if min(control_units, treatment_units) < 2:
        return math.inf
    denominator = (
        control.variance * control.variance / (control_units - 1)
        + treatment.variance * treatment.variance / (treatment_units - 1)
    )
    if denominator == 0 or math.isinf(denominator):
        return math.inf
    total = control.variance + treatment.variance
    return total * total / denominator


def welch_comparison(
    method: str,
    control: ArmMean,
    control_units: int,
    treatment: ArmMean,
    treatment_units: int,
    *,
    alpha: float,
    alternative: Alternative,
) -> EffectEstimate:
    """t comparison of two arm means with the Welch–Satterthwaite df."""
    return wald_comparison(
        method,
        control,
        treatment,
        alpha=alpha,
        alternative=alternative,
        df=welch_satterthwaite_df(control, control_units, treatment, treatment_units),
    )


def welch_ttest(
    control: ArmStats,
    treatment: ArmStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> EffectEstimate:
    """Compare means without assuming equal variances, for any per-unit metric.

    Statistic and p-value equal scipy ``ttest_ind_from_stats(equal_var=False)``; the
    absolute interval uses the Welch–Satterthwaite df, the relative one the delta method
    with the same t quantile.
    """
    return welch_comparison(
        "welch-ttest",
        arm_mean(control),
        control.units,
        arm_mean(treatment),
        treatment.units,
        alpha=alpha,
        alternative=alternative,
    )
