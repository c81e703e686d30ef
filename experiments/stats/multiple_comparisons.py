"""Adjusted p-values for many metrics or variations (statsmodels ``multipletests``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _sorted(p_values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(p_values, dtype=float)
    if values.ndim != 1 or np.any(~((values >= 0) & (values <= 1))):
        raise ValueError(f"p-values must be a flat sequence in [0, 1], got {p_values!r}")
    order = np.argsort(values, kind="stable")
    return values[order], order


def _unsorted(adjusted: np.ndarray, order: np.ndarray) -> tuple[float, ...]:
    result = np.empty_like(adjusted)
    result[order] = np.minimum(adjusted, 1.0)
    return tuple(result.tolist())


def bonferroni(p_values: Sequence[float]) -> tuple[float, ...]:
    """Bonferroni adjustment (p × m, capped at 1): the simplest family-wise error control."""
    ordered, order = _sorted(p_values)
    return _unsorted(ordered * len(ordered), order)


def holm(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm step-down adjustment: controls the family-wise error rate, any dependence."""
    ordered, order = _sorted(p_values)
    multipliers = np.arange(len(ordered), 0, -1)
    return _unsorted(np.maximum.accumulate(ordered * multipliers), order)


def benjamini_hochberg(p_values: Sequence[float]) -> tuple[float, ...]:
    """Benjamini–Hochberg step-up adjustment: controls the false discovery rate."""
    ordered, order = _sorted(p_values)
    scaled = ordered / (np.arange(1, len(ordered) + 1) / len(ordered))
    return _unsorted(np.minimum.accumulate(scaled[::-1])[::-1], order)
