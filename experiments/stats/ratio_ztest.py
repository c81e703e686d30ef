"""Ratio metrics (sum X / sum Y per arm) compared with delta-method variances."""

from __future__ import annotations

from ._inference import arm_mean, wald_comparison
from .estimate import Alternative, EffectEstimate
from .sufficient_stats import RatioArmStats


def ratio_ztest(
    control: RatioArmStats,
    treatment: RatioArmStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> EffectEstimate:
    """Compare ratios such as revenue per session when users, not sessions, are randomised.

    Each arm's ratio variance comes from the delta method with the numerator–denominator
    covariance (``cross_sum``), which keeps the test valid although sessions of one user
    are correlated. Normal reference distribution: the delta method is asymptotic.
    """
    return wald_comparison(
        "ratio-delta-ztest", arm_mean(control), arm_mean(treatment), alpha=alpha, alternative=alternative
    )
