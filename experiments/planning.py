"""Sample-size progress: units each variant needs for the experiment's MDE, and days left."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from experiments.analysis_settings import AnalysisSettings
from experiments.comparison import arm_stats
from experiments.metrics import MetricKind
from experiments.queries import MetricSums
from experiments.stats import (
    Alternative,
    RatioArmStats,
    estimated_days_remaining,
    required_units_per_arm,
    required_units_per_arm_for_rate,
)

__all__ = ["SampleSize", "sample_size"]


@dataclass(frozen=True)
class SampleSize:
    """None fields: not computable yet (no control data, or a control that does not vary).

    `progress` is the smallest variant's share of the required units (capped at 1);
    `days_remaining` extrapolates each variant's daily exposures so far.
    """

    relative_mde: float
    required_units_per_variant: int | None
    progress: float | None
    days_remaining: float | None


def sample_size(
    kind: MetricKind,
    variants: Sequence[MetricSums],
    relative_mde: float,
    settings: AnalysisSettings,
    *,
    days_elapsed: int,
    alternative: Alternative = "two-sided",
) -> SampleSize:
    """Plan on the control's observed baseline (the first variant), fixed-horizon test with
    the metric's alternative; conversions by Cohen's h (statsmodels ``NormalIndPower``)."""
    required = _required_units(kind, variants[0], relative_mde, settings, alternative)
    if required is None or days_elapsed == 0:
        return SampleSize(relative_mde, required, None, None)
    units = [arm.units for arm in variants]
    remaining = estimated_days_remaining(required, units, days_elapsed)
    return SampleSize(
        relative_mde,
        required,
        min(1.0, min(units) / required),
        remaining if math.isfinite(remaining) else None,
    )


def _required_units(
    kind: MetricKind, control: MetricSums, relative_mde: float, settings: AnalysisSettings, alternative: Alternative
) -> int | None:
    stats = arm_stats(kind, control)
    alpha, power = settings.alpha, settings.power
    try:
        if isinstance(stats, RatioArmStats):
            per_unit_std = math.sqrt(stats.ratio_variance * stats.units)
            units = required_units_per_arm(stats.ratio, per_unit_std, relative_mde, alpha=alpha, power=power,
                                           alternative=alternative)
        elif kind == "conversion":
            units = required_units_per_arm_for_rate(stats.mean, relative_mde, alpha=alpha, power=power,
                                                    alternative=alternative)
        else:
            units = required_units_per_arm(stats.mean, math.sqrt(stats.variance), relative_mde, alpha=alpha,
                                           power=power, alternative=alternative)
    except (ValueError, ZeroDivisionError):
        return None
    return math.ceil(units) if math.isfinite(units) else None
