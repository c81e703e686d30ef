"""The one query shape of every analysis: date range, zone, property filters and breakdown.

A date range is inclusive local days in an IANA `timezone` (default UTC); filters and
breakdowns name event properties or person properties (`"type": "person"`: the person's
latest value). Everything is validated here, before any SQL exists: an invalid query raises
`InsightError` naming the field to fix. Property names and values reach SQL only as bound
parameters (`insights.sql`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from typing import Literal

import msgspec

__all__ = [
    "Breakdown", "COHORT_KEY_PATTERN", "DateRange", "FilterType", "FilterOperator", "InsightError", "OPERATORS", "PropertyFilter", "PropertyType",
    "FilterValue", "MAX_FILTERS", "MAX_RANGE_DAYS", "PROPERTY_PATTERN", "validate_breakdown", "validate_date_range",
    "validate_filters", "zone",
]

FilterOperator = Literal[
    "equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "regex", "is_set", "is_not_set"
]
"""equals/not_equals/in/not_in compare the property's text (a string as it is, a number or
boolean as its JSON text) and count a missing property as not equal; gt/gte/lt/lte compare
numbers (a numeric string counts, anything else never matches); contains is
case-insensitive; regex is RE2 (ClickHouse `match`); is_set: present and not null."""
OPERATORS: tuple[str, ...] = FilterOperator.__args__  # type: ignore[attr-defined]
PropertyType = Literal["event", "person"]
FilterType = Literal["event", "person", "cohort"]
"""What a filter or breakdown reads: an event property, a person property, or cohort membership."""
FilterValue = str | int | float | bool | list[str | int | float | bool] | None

PROPERTY_PATTERN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.\-]{0,127}")
"""A property name: it reaches SQL only as a parameter, but a name people can read is a name people can pick."""
MAX_FILTERS = 20
MAX_FILTER_VALUES = 100
MAX_RANGE_DAYS = 731
"""The longest date range (two years) of one query."""
MAX_BREAKDOWN_LIMIT = 100
EARLIEST_DAY, LATEST_DAY = dt.date(1970, 1, 2), dt.date(2200, 12, 31)
"""Days a range may cover (what the store's DateTime64 holds, with room for a 30-day look-back)."""


class InsightError(ValueError):
    """A query that cannot be answered; `field` names what to fix (a JSON path: `series[1].math`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class PropertyFilter(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Keep events whose event (or person) `property` satisfies `operator` with `value`.

    `in`/`not_in` take a list; `is_set`/`is_not_set` no value; the others one value.
    `{"type": "cohort", "key"}`: keep events of the cohort's members (no property, operator or value).
    """

    property_name: str = msgspec.field(default="", name="property")
    operator: FilterOperator = "equals"
    value: FilterValue = None
    type: FilterType = "event"
    key: str | None = None

    @property
    def values(self) -> list[str]:
        """The value(s) as the text they compare with: strings as they are, numbers and booleans as JSON."""
        values = self.value if isinstance(self.value, list) else [] if self.value is None else [self.value]
        return [as_text(value) for value in values]


class Breakdown(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Split each series by the text of an event (or person) property.

    `{"type": "cohort", "cohorts": [key, ...]}`: one value per cohort, a person counting in each
    cohort they belong to (analyses that support it say so).
    """

    property_name: str = msgspec.field(default="", name="property")
    type: FilterType = "event"
    cohorts: list[str] = []


class DateRange(msgspec.Struct, frozen=True):
    """Inclusive local days `date_from` .. `date_to` in `timezone`."""

    date_from: dt.date
    date_to: dt.date
    timezone: str = "UTC"

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The UTC instants [start of `date_from`, start of the day after `date_to`) in the zone."""
        tz = zone(self.timezone)
        start = dt.datetime.combine(self.date_from, dt.time(), tz)
        end = dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time(), tz)
        return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def as_text(value: str | int | float | bool) -> str:
    """How a filter value compares with a property: a string as it is, anything else as its JSON text."""
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


@functools.lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone `name` (one of the system's tz database); InsightError("timezone") otherwise."""
    if name not in _zone_names():
        raise InsightError("timezone", f"unknown IANA time zone {name!r} (e.g. UTC, Europe/Berlin)")
    return zoneinfo.ZoneInfo(name)


def validate_date_range(date_range: DateRange, max_days: int = MAX_RANGE_DAYS) -> None:
    """Raise InsightError unless the zone is known and the range is ordered and at most `max_days` long."""
    zone(date_range.timezone)
    for field in ("date_from", "date_to"):
        if not EARLIEST_DAY + dt.timedelta(days=30) <= getattr(date_range, field) <= LATEST_DAY:
            raise InsightError(field, f"must be between {EARLIEST_DAY + dt.timedelta(days=30)} and {LATEST_DAY}")
    if date_range.date_from > date_range.date_to:
        raise InsightError("date_from", f"{date_range.date_from} is after date_to {date_range.date_to}")
    days = (date_range.date_to - date_range.date_from).days + 1
    if days > max_days:
        raise InsightError("date_to", f"the range has {days} days; at most {max_days}")


def validate_filters(filters: list[PropertyFilter], field: str) -> None:
    """Raise InsightError naming `field[i].…` unless every filter can be turned into safe SQL."""
    if len(filters) > MAX_FILTERS:
        raise InsightError(field, f"at most {MAX_FILTERS} filters")
    for index, condition in enumerate(filters):
        where = f"{field}[{index}]"
        if condition.type == "cohort":
            _check_cohort(condition, where)
            continue
        if condition.key is not None:
            raise InsightError(f"{where}.key", "only cohort filters name a key")
        _check_property(condition.property_name, f"{where}.property")
        value = condition.value
        if condition.operator in ("is_set", "is_not_set"):
            if value is not None:
                raise InsightError(f"{where}.value", f"{condition.operator} takes no value")
        elif condition.operator in ("in", "not_in"):
            if not isinstance(value, list) or not 0 < len(value) <= MAX_FILTER_VALUES:
                raise InsightError(f"{where}.value", f"{condition.operator} takes a list of 1 to {MAX_FILTER_VALUES} values")
        elif value is None or isinstance(value, list):
            raise InsightError(f"{where}.value", f"{condition.operator} takes one value")
        elif condition.operator in ("gt", "gte", "lt", "lte") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InsightError(f"{where}.value", f"{condition.operator} compares numbers: give a number")
        elif condition.operator == "regex":
            _check_regex(str(value), f"{where}.value")


def validate_breakdown(breakdown: Breakdown | None, limit: int, field: str = "breakdown") -> None:
    """Raise InsightError unless the breakdown's property is a valid name and `limit` is 1..100."""
    if breakdown is not None and breakdown.type == "cohort":
        if breakdown.property_name or not 0 < len(breakdown.cohorts) <= MAX_BREAKDOWN_LIMIT:
            raise InsightError(f"{field}.cohorts", f"a cohort breakdown lists 1 to {MAX_BREAKDOWN_LIMIT} cohort keys "
                               "and no property")
        for index, key in enumerate(breakdown.cohorts):
            if not COHORT_KEY_PATTERN.fullmatch(key):
                raise InsightError(f"{field}.cohorts[{index}]", "use 1-128 letters, digits, '_', '.' or '-'")
    elif breakdown is not None:
        if breakdown.cohorts:
            raise InsightError(f"{field}.cohorts", "only a cohort breakdown lists cohorts")
        _check_property(breakdown.property_name, f"{field}.property")
    if not 0 < limit <= MAX_BREAKDOWN_LIMIT:
        raise InsightError("breakdown_limit", f"must be 1 to {MAX_BREAKDOWN_LIMIT}")


COHORT_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
"""A cohort key (the documents' key rule)."""


def _check_cohort(condition: PropertyFilter, where: str) -> None:
    if condition.key is None or not COHORT_KEY_PATTERN.fullmatch(condition.key):
        raise InsightError(f"{where}.key", "name the cohort: 1-128 letters, digits, '_', '.' or '-'")
    if condition.property_name or condition.value is not None or condition.operator != "equals":
        raise InsightError(f"{where}.property", "a cohort filter takes only a key")


def _check_property(name: str, field: str) -> None:
    if not PROPERTY_PATTERN.fullmatch(name):
        raise InsightError(field, "use letters, digits, '_', '$', '.', '-' (max 128), starting with a letter, '_' or '$'")


def _check_regex(pattern: str, field: str) -> None:
    """Python's `re` accepts most of what RE2 does; ClickHouse refusing one is mapped by the caller too."""
    if len(pattern) > 1000:
        raise InsightError(field, "a regex of at most 1000 characters")
    try:
        re.compile(pattern)
    except re.error as error:
        raise InsightError(field, f"not a regular expression: {error}") from None
