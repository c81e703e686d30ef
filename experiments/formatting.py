"""Numbers for people: one rule shared by the CLI table and the dashboard.

Per-unit values, effects and interval bounds get three significant digits, and numbers read
side by side share one number of decimals, so they line up and compare at a glance: the
variants of a metric ("6.50" and "5.19", not "6.5" and "5.188") and an effect with its
interval ("-1.31 [-2.84, +0.21]"). Digits are never dropped left of the decimal point.
Conversion rates and their differences are percentages (points) with two decimals, relative
lifts percentages with one, p-values three decimals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = [
    "SIGNIFICANT_DIGITS",
    "decimals_for",
    "format_values",
    "format_total",
    "format_interval",
    "format_relative_interval",
    "format_p",
    "format_percent",
]

SIGNIFICANT_DIGITS = 3
_MISSING = "n/a"


def decimals_for(values: Iterable[float | None], significant: int = SIGNIFICANT_DIGITS) -> int:
    """Decimals giving the largest finite magnitude among `values` `significant` digits (≥ 0)."""
    largest = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    if largest == 0:
        return 0
    return max(0, significant - 1 - math.floor(math.log10(largest)))


def format_values(kind: str, values: Sequence[float | None]) -> list[str]:
    """Values per unit (or ratios) of one metric's variants, sharing one precision; rates in %."""
    if kind == "conversion":
        return [format_percent(value, signed=False, decimals=2) for value in values]
    places = decimals_for(values)
    return [_number(value, places) for value in values]


def format_total(value: float | None) -> str:
    """A variant's total (conversions, events, a summed property): whole numbers stay whole."""
    if value is not None and math.isfinite(value) and float(value).is_integer():
        return f"{int(value):,}"
    return _number(value, decimals_for([value]))


NO_ESTIMATE = "n/a"


def format_interval(kind: str, estimate: float | None, low: float | None, high: float | None) -> str:
    """An absolute effect and its interval, one precision for all three; pp for conversions.

    With no interval at all (an arm without data) the point estimate means nothing: "n/a".
    """
    if low is None and high is None:
        return NO_ESTIMATE
    if kind == "conversion":
        texts = [format_percent(value, decimals=2).replace("%", "pp") for value in (estimate, low, high)]
    else:
        places = decimals_for([estimate, low, high])
        texts = [_number(value, places, signed=True) for value in (estimate, low, high)]
    return _interval(texts)


def format_relative_interval(estimate: float | None, low: float | None, high: float | None) -> str:
    """A relative lift and its interval in %: "+12.3% [+2.1%, +22.5%]"."""
    if low is None and high is None:
        return NO_ESTIMATE
    return _interval([format_percent(value) for value in (estimate, low, high)])


def format_p(p_value: float | None) -> str:
    """A p-value for people: three decimals, "< 0.001" below that, "n/a" when there is none."""
    if p_value is None:
        return _MISSING
    return "< 0.001" if p_value < 0.001 else f"{p_value:.3f}"


def format_percent(value: float | None, signed: bool = True, decimals: int = 1) -> str:
    """A share or relative change in %; signed for lifts."""
    if value is None or not math.isfinite(value):
        return _MISSING
    return f"{value:{'+' if signed else ''}.{decimals}%}"


def _interval(texts: list[str]) -> str:
    estimate, low, high = texts
    return f"{estimate} [{low}, {high}]"


def _number(value: float | None, places: int, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return _MISSING
    return f"{value:{'+' if signed else ''},.{places}f}"
