"""Two-proportion z-test for conversion metrics (statsmodels ``proportions_ztest``)."""

from __future__ import annotations

import math

from ._inference import ArmMean, wald_comparison
from .estimate import Alternative, EffectEstimate
from .sufficient_stats import ArmStats, bernoulli_variance


def _proportion(arm: ArmStats) -> ArmMean:
    """Conversion rate with its unpooled (Wald) variance p(1 − p)/n."""
    if not 0 <= arm.sum <= arm.units:
        raise ValueError(f"converters must be within [0, units], got {arm.sum}/{arm.units}")
    if arm.units == 0:
        return ArmMean(0.0, math.inf)
    rate = arm.mean
    return ArmMean(rate, bernoulli_variance(rate) / arm.units)


def proportion_ztest(
    control: ArmStats,
    treatment: ArmStats,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> EffectEstimate:
    """Compare conversion rates (``sum`` = converters, so ``sum/units`` is in [0, 1]).

    The p-value uses the pooled variance under H0 (identical to statsmodels
    ``proportions_ztest(count=[t, c], nobs=[nt, nc])``); the absolute interval is the
    unpooled Wald interval and the relative one the delta method, as the pooled variance
    only holds under H0.
    """
    units = control.units + treatment.units
    pooled = (control.sum + treatment.sum) / units if units else 0.0
    pooled_se = (
        math.sqrt(pooled * (1 - pooled) * (1 / control.units + 1 / treatment.units))
        if control.units and treatment.units
        else math.inf
    )
    return wald_comparison(
        "proportion-ztest",
        _proportion(control),
        _proportion(treatment),
        alpha=alpha,
        alternative=alternative,
        test_standard_error=pooled_se,
    )
