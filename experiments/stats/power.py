"""Experiment planning: units needed per arm and days left at the observed traffic."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import optimize, special

from ._inference import check_test_options, critical_value
from .estimate import Alternative


def _power(standardized_effect: float, units_per_arm: float, critical: float, alternative: Alternative) -> float:
    """Power of the two-sample z-test with equal arms (statsmodels ``NormalIndPower``)."""
    shift = standardized_effect * math.sqrt(units_per_arm / 2)
    power = float(special.ndtr(shift - critical))
    if alternative == "two-sided":
        power += float(special.ndtr(-shift - critical))
    return power


def required_units_per_arm(
    baseline_mean: float,
    baseline_std: float,
    relative_mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
) -> float:
    """Units per arm (fractional: round up) to detect a relative change of ``relative_mde``.

    The minimum detectable effect is relative to the baseline (0.05 = 5 %), in the
    direction of the alternative; ``baseline_std`` is the per-unit standard deviation.
    Equals statsmodels ``zt_ind_solve_power(effect_size=mde·mean/std, ratio=1)``.
    """
    check_test_options(alpha, alternative)
    if not alpha < power < 1:
        raise ValueError(f"power must be in (alpha, 1), got {power}")
    effect = abs(relative_mde * baseline_mean / baseline_std) if baseline_std > 0 else 0.0
    if effect == 0 or math.isinf(effect):
        raise ValueError("need a non-zero relative_mde, baseline_mean and baseline_std")
    critical = critical_value(alpha, alternative)
    one_tail = 2 * ((critical + float(special.ndtri(power))) / effect) ** 2
    return float(optimize.brentq(
        lambda units: _power(effect, units, critical, alternative) - power,
        one_tail * 1e-3,
        one_tail * 1.01,  # exact for one-sided alternatives: keep the root inside the bracket
        xtol=1e-12,
        rtol=1e-14,
    ))


def required_units_per_arm_for_rate(
    baseline_rate: float,
    relative_mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
) -> float:
    """Units per arm to detect a conversion rate moving from p to p·(1 + mde) (p·(1 − mde) for "less").

    Cohen's h, the arcsine effect size 2·asin√p₂ − 2·asin√p₁, in the two-sample z power
    equation: equal to statsmodels ``NormalIndPower().solve_power(proportion_effectsize(p₂,
    p₁), ratio=1)``. The arcsine stabilises the variance, so both arms' rates count (scaling
    the MDE by the control's standard deviation alone under-sizes an increase).
    """
    if not 0 < baseline_rate < 1:
        raise ValueError(f"baseline_rate must be in (0, 1), got {baseline_rate}")
    target = baseline_rate * (1 - relative_mde if alternative == "less" else 1 + relative_mde)
    if not 0 <= target <= 1:
        raise ValueError(f"the rate after the MDE must be in [0, 1], got {target}")
    cohens_h = 2 * math.asin(math.sqrt(target)) - 2 * math.asin(math.sqrt(baseline_rate))
    return required_units_per_arm(1.0, 1.0, cohens_h, alpha=alpha, power=power, alternative=alternative)


def estimated_days_remaining(
    required_units_per_arm: float, units_per_arm: Sequence[int], days_elapsed: float
) -> float:
    """Days until the slowest arm reaches the target at its daily traffic so far.

    0 when every arm has enough units; inf when an arm that still needs units has had none.
    """
    if days_elapsed <= 0:
        raise ValueError(f"days_elapsed must be > 0, got {days_elapsed}")
    return max(
        (
            0.0
            if units >= required_units_per_arm
            else math.inf
            if units == 0
            else (required_units_per_arm - units) * days_elapsed / units
            for units in units_per_arm
        ),
        default=0.0,
    )
