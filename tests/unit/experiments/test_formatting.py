"""Numbers for people: side-by-side numbers share one precision of three significant digits."""

from __future__ import annotations

import math

from experiments.formatting import (
    decimals_for,
    format_interval,
    format_relative_interval,
    format_total,
    format_values,
)


def test_variants_of_a_metric_share_one_precision() -> None:
    assert format_values("mean", [6.5, 5.188]) == ["6.50", "5.19"]
    assert format_values("mean", [10.5, 9.87]) == ["10.5", "9.9"]
    assert format_values("ratio", [0.01234, 0.0098]) == ["0.0123", "0.0098"]
    assert format_values("mean", [123456.7, None]) == ["123,457", "n/a"]
    assert format_values("conversion", [0.1, 0.12345]) == ["10.00%", "12.35%"]


def test_an_effect_and_its_interval_line_up() -> None:
    assert format_interval("mean", -1.312, -2.837, 0.2122) == "-1.31 [-2.84, +0.21]"
    assert format_interval("count", 0.0, 0.0, 0.0) == "+0 [+0, +0]"
    assert format_interval("mean", 1234.5, 800.25, 1668.75) == "+1,234 [+800, +1,669]"
    assert format_interval("conversion", 0.02, 0.011, None) == "+2.00pp [+1.10pp, n/a]"
    assert format_relative_interval(0.1234, -0.01, math.inf) == "+12.3% [-1.0%, n/a]"


def test_totals_keep_whole_numbers_whole() -> None:
    assert format_total(1234.0) == "1,234"
    assert format_total(12.3456) == "12.3"
    assert decimals_for([None, math.nan]) == 0


def test_an_effect_without_any_interval_is_not_shown() -> None:
    """An empty arm gives infinite bounds (None in JSON): no point estimate to show."""
    assert format_interval("conversion", -1.0, None, None) == "n/a"
    assert format_interval("mean", 2.5, None, None) == "n/a"
    assert format_relative_interval(-1.0, None, None) == "n/a"
    assert format_interval("mean", 2.5, 1.0, None).startswith("+2.5")  # one-sided: kept
