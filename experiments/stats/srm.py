"""Sample ratio mismatch: is the traffic split what the experiment configured?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import special

SRM_P_VALUE_THRESHOLD = 0.001
"""Below this p-value the split is flagged (GrowthBook/Statsig default): results are suspect."""


@dataclass(frozen=True)
class SrmResult:
    """Pearson chi-square goodness-of-fit of observed units to the configured weights."""

    p_value: float
    chi2: float
    df: int
    expected_units: tuple[float, ...]

    @property
    def is_mismatch(self) -> bool:
        """True below the SRM threshold: the split is not the configured one."""
        return self.p_value < SRM_P_VALUE_THRESHOLD


def srm_test(observed_units: Sequence[int], expected_weights: Sequence[float]) -> SrmResult:
    """Chi-square test of units per variation (equal to scipy ``chisquare``).

    Weights need not sum to 1 (they are normalised); no units at all gives p = 1.
    """
    if len(observed_units) != len(expected_weights) or len(observed_units) < 2:
        raise ValueError("need one weight per variation and at least two variations")
    if any(weight <= 0 for weight in expected_weights):
        raise ValueError(f"weights must be > 0, got {list(expected_weights)}")
    if any(units < 0 for units in observed_units):
        raise ValueError(f"units must be >= 0, got {list(observed_units)}")
    total_units, total_weight = sum(observed_units), sum(expected_weights)
    expected = tuple(total_units * weight / total_weight for weight in expected_weights)
    df = len(expected) - 1
    if total_units == 0:
        return SrmResult(p_value=1.0, chi2=0.0, df=df, expected_units=expected)
    chi2 = sum((units - want) ** 2 / want for units, want in zip(observed_units, expected))
    return SrmResult(
        p_value=float(special.chdtrc(df, chi2)), chi2=chi2, df=df, expected_units=expected
    )
