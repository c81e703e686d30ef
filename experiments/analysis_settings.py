"""How an experiment is analysed: the method, error rates, correction, CUPED and planning.

Part of the experiment definition (`"analysis": {...}`); every field has a default so
older definitions keep their meaning (fixed-horizon tests, no CUPED).
"""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["Method", "Correction", "AnalysisSettings", "settings_error"]

Method = Literal["fixed", "sequential", "bayesian"]
"""fixed: z/Welch/delta tests, read once at the planned size; sequential: always-valid
confidence sequences, safe to read daily; bayesian: chance to beat control and expected loss."""

Correction = Literal["holm", "bonferroni", "bh", "none"]
"""Adjustment of p-values across every (treatment arm × decision metric) comparison: Holm and
Bonferroni control the family-wise error rate (Holm is uniformly more powerful), BH the false
discovery rate."""


class AnalysisSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How results are computed; the defaults keep older definitions' meaning (fixed horizon, Holm, no CUPED)."""

    method: Method = "fixed"
    alpha: float = 0.05
    correction: Correction = "holm"
    cuped: bool = False
    cuped_lookback_hours: float = 336.0
    power: float = 0.8


def settings_error(settings: AnalysisSettings) -> tuple[str, str] | None:
    """(field, message) of the first invalid setting, or None when all are usable."""
    if not 0 < settings.alpha < 0.5:
        return ("analysis.alpha", "must be between 0 and 0.5")
    if not settings.alpha < settings.power < 1:
        return ("analysis.power", "must be between alpha and 1")
    if not 0 < settings.cuped_lookback_hours <= 24 * 366:
        return ("analysis.cuped_lookback_hours", "must be more than 0 and at most a year")
    return None
