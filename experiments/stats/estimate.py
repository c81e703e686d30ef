"""The result every frequentist method returns, whatever the metric type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Alternative = Literal["two-sided", "greater", "less"]
"""Alternative hypothesis about treatment − control (scipy's names)."""


@dataclass(frozen=True)
class EffectSummary:
    """What every method, frequentist or Bayesian, says about treatment versus control.

    ``absolute_effect`` is treatment_mean − control_mean in metric units;
    ``relative_effect`` is treatment_mean / control_mean − 1 (0.05 = +5 %). The intervals
    are the method's: confidence intervals or sequences, or credible intervals.
    """

    method: str
    control_mean: float
    treatment_mean: float
    absolute_effect: float
    absolute_ci: tuple[float, float]
    relative_effect: float
    relative_ci: tuple[float, float]


@dataclass(frozen=True)
class EffectEstimate(EffectSummary):
    """Treatment versus control for one metric, from a frequentist method.

    The relative interval is a delta-method one. One-sided alternatives give one-sided
    intervals (an infinite bound). The p-value is never NaN. When the arms carry no
    information (an empty arm, fewer than two units for a mean) the statistic is 0, the
    p-value 1 and the intervals infinite; when neither arm varies the intervals collapse to
    the point estimate. The relative fields are NaN exactly when control_mean is 0 (lift
    undefined).
    """

    p_value: float
    statistic: float
    alpha: float
    alternative: Alternative
