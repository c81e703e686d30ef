"""Calendar intervals in a zone: DST days have 23 or 25 hours, every interval is listed."""

from __future__ import annotations

import datetime as dt

import pytest

from insights.intervals import interval_labels
from insights.query import DateRange, InsightError, validate_date_range


def test_a_spring_forward_day_has_23_hours_and_a_fall_back_day_25() -> None:
    spring = interval_labels("hour", DateRange(dt.date(2026, 3, 29), dt.date(2026, 3, 29), "Europe/Berlin"))
    fall = interval_labels("hour", DateRange(dt.date(2026, 11, 1), dt.date(2026, 11, 1), "America/New_York"))
    assert len(spring) == 23 and spring[2] == "2026-03-29T03:00:00+02:00"
    assert len(fall) == 25 and fall[1:3] == ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"]


def test_weeks_start_on_sunday_and_months_on_the_first_before_the_range() -> None:
    days = DateRange(dt.date(2026, 1, 28), dt.date(2026, 3, 2), "UTC")
    assert interval_labels("week", days)[:2] == ["2026-01-25", "2026-02-01"]
    assert interval_labels("month", days) == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert len(interval_labels("day", days)) == 34


@pytest.mark.parametrize(("date_range", "field"), [
    (DateRange(dt.date(2026, 2, 2), dt.date(2026, 2, 1)), "date_from"),
    (DateRange(dt.date(2020, 1, 1), dt.date(2026, 1, 1)), "date_to"),
    (DateRange(dt.date(2026, 1, 1), dt.date(2026, 1, 1), "Mars/Olympus"), "timezone"),
    (DateRange(dt.date(2026, 1, 1), dt.date(2026, 1, 1), "../etc/passwd"), "timezone"),
])
def test_bad_ranges_name_the_field(date_range: DateRange, field: str) -> None:
    with pytest.raises(InsightError) as raised:
        validate_date_range(date_range)
    assert raised.value.field == field
