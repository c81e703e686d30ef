"""Per-arm sufficient statistics: the only input the statistics need.

Queries aggregate raw events down to these per-variation sums (in ClickHouse); every
method in this package is a pure function of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ArmStats:
    """Sums of one per-unit metric over the units of one arm.

    For a conversion (0/1) metric, ``sum == sum_squares == converters`` and ``bernoulli`` is
    True (``from_conversions``): its variance is then p(1 − p), the one convention every
    method (fixed, sequential, Bayesian) uses for 0/1 metrics, as statsmodels' z-test and
    gbstats do.
    """

    units: int
    sum: float
    sum_squares: float
    bernoulli: bool = False

    def __post_init__(self) -> None:
        if self.units < 0:
            raise ValueError(f"units must be >= 0, got {self.units}")

    @classmethod
    def from_conversions(cls, units: int, converters: int) -> ArmStats:
        """Sufficient statistics of a 0/1 metric."""
        if not 0 <= converters <= units:
            raise ValueError(f"need 0 <= converters <= units, got {converters}/{units}")
        return cls(units=units, sum=converters, sum_squares=converters, bernoulli=True)

    @property
    def mean(self) -> float:
        """Mean per unit; 0.0 for an empty arm (its variance is then infinite)."""
        return self.sum / self.units if self.units else 0.0

    @property
    def variance(self) -> float:
        """Per-unit variance: p(1 − p) for a Bernoulli arm (inf when empty), else unbiased
        (ddof=1) and inf below two units (spread unknown)."""
        if self.bernoulli:
            return bernoulli_variance(self.mean) if self.units else math.inf
        if self.units < 2:
            return math.inf
        return max(self.sum_squares - self.sum * self.mean, 0.0) / (self.units - 1)


def bernoulli_variance(rate: float) -> float:
    """p(1 − p): the per-unit variance of a 0/1 metric with rate p."""
    return rate * (1 - rate)


def sample_covariance(first: ArmStats, second: ArmStats, cross_sum: float) -> float:
    """Unbiased covariance of two metrics measured on the same units (ddof=1)."""
    if first.units != second.units:
        raise ValueError(f"metrics cover different units: {first.units} != {second.units}")
    if first.units < 2:
        return 0.0
    return (cross_sum - first.sum * second.mean) / (first.units - 1)


@dataclass(frozen=True)
class RatioArmStats:
    """One arm of a ratio metric ``sum(numerator) / sum(denominator)``.

    Example: revenue per session with users as the randomisation unit; ``cross_sum`` is
    the sum over units of numerator × denominator.
    """

    numerator: ArmStats
    denominator: ArmStats
    cross_sum: float

    def __post_init__(self) -> None:
        if self.numerator.units != self.denominator.units:
            raise ValueError("numerator and denominator must cover the same units")

    @property
    def units(self) -> int:
        """Units in the arm (the numerator's and the denominator's are the same units)."""
        return self.numerator.units

    @property
    def ratio(self) -> float:
        """sum(numerator) / sum(denominator); 0.0 when the denominator sums to 0."""
        return self.numerator.sum / self.denominator.sum if self.denominator.sum else 0.0

    @property
    def ratio_variance(self) -> float:
        """Delta-method variance of the ratio estimate (not per unit); inf if unknown."""
        if self.units < 2 or self.denominator.mean == 0:
            return math.inf
        ratio, mean_y = self.ratio, self.denominator.mean
        covariance = sample_covariance(self.numerator, self.denominator, self.cross_sum)
        residual = (
            self.numerator.variance - 2 * ratio * covariance + ratio * ratio * self.denominator.variance
        )
        return max(residual, 0.0) / mean_y / mean_y / self.units


@dataclass(frozen=True)
class CupedArmStats:
    """One arm of a metric with its pre-exposure covariate, for CUPED.

    ``covariate`` is usually the same metric over a period before exposure; ``cross_sum``
    is the sum over units of metric × covariate.
    """

    metric: ArmStats
    covariate: ArmStats
    cross_sum: float

    def __post_init__(self) -> None:
        if self.metric.units != self.covariate.units:
            raise ValueError("metric and covariate must cover the same units")

    @property
    def units(self) -> int:
        """Units in the arm (the metric's and the covariate's are the same units)."""
        return self.metric.units

    @property
    def covariance(self) -> float:
        """Unbiased covariance of metric and covariate per unit."""
        return sample_covariance(self.metric, self.covariate, self.cross_sum)
