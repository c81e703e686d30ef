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
    ``standard_error`` and ``relative_standard_error`` are those of the two effects (the
    posterior sd for Bayesian results; inf without evidence, NaN where the lift is
    undefined), so results can be audited and recombined. ``degenerate`` is True when an
    arm's estimate has zero variance (0 % or 100 % converted, a constant metric, a single
    converting unit): the intervals and probabilities then treat that arm as exact, which
    they are not, so they must not be presented as facts.
    """

    method: str
    control_mean: float
    treatment_mean: float
    absolute_effect: float
    absolute_ci: tuple[float, float]
    relative_effect: float
    relative_ci: tuple[float, float]
    standard_error: float
    relative_standard_error: float
    degenerate: bool


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
    df: float
    """Degrees of freedom of the reference t distribution; inf for the normal (z) one."""
    alpha: float
    alternative: Alternative
