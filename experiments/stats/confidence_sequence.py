"""Always-valid inference: the asymptotic confidence sequence of Waudby-Smith et al. (2021).

GrowthBook's and Eppo's "sequential testing": the interval holds simultaneously over every
look, so results can be checked daily without inflating the false-positive rate.
"""

from __future__ import annotations

import math

from ._inference import (
    arm_mean,
    check_test_options,
    difference_se,
    effect_estimate,
    standardized,
)
from .estimate import Alternative, EffectEstimate
from .sufficient_stats import ArmStats, RatioArmStats

DEFAULT_TUNING_UNITS = 5000
"""Total units at which the sequence is tightest when no plan says otherwise (GrowthBook's
default). GrowthBook documents setting the tuning parameter to the total sample the
experiment expects; the analysis passes its planned sample (all arms) as ``tuning_units``."""


def _mixture_precision(alpha: float, tuning_units: float, units: int) -> float:
    """N·ρ² of the normal mixture, with ρ chosen to minimise the width at ``tuning_units``."""
    log_term = -2 * math.log(alpha)
    return units * (log_term + math.log(log_term + 1)) / tuning_units


def asymptotic_confidence_sequence(
    control: ArmStats | RatioArmStats,
    treatment: ArmStats | RatioArmStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
    tuning_units: float = DEFAULT_TUNING_UNITS,
) -> EffectEstimate:
    """Difference of means (or ratios) with an interval and p-value valid at any look.

    The interval is ``estimate ± se · sqrt(2 (Nρ²+1)/(Nρ²) · log(sqrt(Nρ²+1)/alpha))``
    with N the total units; the p-value is the smallest alpha whose sequence excludes 0
    at this look (ρ is fixed by the configured alpha), so ``p_value <= alpha`` exactly
    when the interval excludes 0. The running minimum of p-values over looks is also
    valid. One-sided alternatives use the two-sided boundary (conservative).
    """
    check_test_options(alpha, alternative)
    if tuning_units <= 0:
        raise ValueError(f"tuning_units must be > 0, got {tuning_units}")
    control_mean, treatment_mean = arm_mean(control), arm_mean(treatment)
    precision = _mixture_precision(alpha, tuning_units, control.units + treatment.units)
    statistic = standardized(
        treatment_mean.mean - control_mean.mean, difference_se(control_mean, treatment_mean)
    )
    return effect_estimate(
        "asymptotic-confidence-sequence",
        control_mean,
        treatment_mean,
        statistic=statistic or 0.0,
        p_value=_always_valid_p_value(statistic, precision, alternative),
        critical=_critical_value(alpha, precision),
        alpha=alpha,
        alternative=alternative,
    )


def _critical_value(alpha: float, precision: float) -> float:
    if precision == 0:
        return math.inf
    return math.sqrt(
        2 * (precision + 1) / precision * math.log(math.sqrt(precision + 1) / alpha)
    )


def _always_valid_p_value(statistic: float | None, precision: float, alternative: Alternative) -> float:
    against_alternative = statistic is not None and (
        (alternative == "greater" and statistic < 0) or (alternative == "less" and statistic > 0)
    )
    if statistic is None or against_alternative:
        return 1.0
    exponent = -statistic * statistic * precision / (2 * (precision + 1))
    return min(1.0, math.sqrt(precision + 1) * math.exp(exponent))
