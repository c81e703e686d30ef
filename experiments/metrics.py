"""Metric definitions: what is measured per unit after its first exposure, and how to compare it.

A metric is its own versioned entity (`PUT /v1/metrics/{key}`) that experiments reference
by key, so "Revenue per user" means the same thing in every experiment. Property names
reach SQL only as query parameters, and only after `validate_metric` accepted them.

Filters are the product's one filter shape (`insights.query.PropertyFilter`, on event
properties). Metrics stored before it (`{"property", "equals": v}` or `{"property", "in": [...]}`)
are read, and accepted, as `equals` / `in` filters: `parse_metric` upgrades them.
"""

from __future__ import annotations

import math
import re
from typing import Literal

import msgspec

from collector.documents import check_key, decode_document
from collector.json_errors import UNREADABLE_JSON
from insights.query import InsightError, PropertyFilter, validate_filters

__all__ = [
    "MetricKind",
    "Measure",
    "Cap",
    "MetricDefinition",
    "MetricError",
    "parse_metric",
    "validate_metric",
    "conversion_metric",
    "IMPLICIT_CONVERSION_KEY",
]

MetricKind = Literal["conversion", "mean", "count", "ratio"]
"""conversion: did the unit do the event (0/1); mean: each unit's sum of a numeric property,
averaged over units; count: events per unit; ratio: sum of numerators / sum of denominators."""

IMPLICIT_CONVERSION_KEY = "conversion"
"""Key of the metric an experiment's `conversion_event` stands for."""

PROPERTY_PATTERN = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.\-]{0,127}")
_MAX_FILTERS = 8


class MetricError(ValueError):
    """An invalid metric; `field` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Measure(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A per-unit aggregate of one event: the sum of `property`, or the number of events."""

    event: str
    property_name: str | None = msgspec.field(default=None, name="property")
    filters: list[PropertyFilter] = []


class Cap(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Winsorise each unit's value: at `value` (absolute) or at that quantile of all units."""

    kind: Literal["absolute", "percentile"]
    value: float


class MetricDefinition(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One metric. The numerator is `event` (+ `property` for mean and ratio, + `filters`).

    `window_hours` (None: the experiment's `conversion_window_hours`) bounds which events
    after a unit's first exposure count. `higher_is_better` decides win or loss.
    """

    key: str
    kind: MetricKind
    event: str
    name: str = ""
    property_name: str | None = msgspec.field(default=None, name="property")
    filters: list[PropertyFilter] = []
    denominator: Measure | None = None
    window_hours: float | None = None
    cap: Cap | None = None
    higher_is_better: bool = True

    @property
    def numerator(self) -> Measure:
        """What is summed per unit: the event, the property (None: count events) and the filters."""
        return Measure(self.event, self.property_name, self.filters)

    @property
    def label(self) -> str:
        """The name people see: `name`, else the key."""
        return self.name or self.key


def parse_metric(document: bytes | str) -> MetricDefinition:
    """Decode and validate a JSON metric definition (legacy filters upgraded); raises MetricError."""
    metric = decode_document(_upgraded(document), MetricDefinition, MetricError, "metric")
    validate_metric(metric)
    return metric


def validate_metric(metric: MetricDefinition) -> None:
    """Raise MetricError unless the metric can be turned into safe SQL and analysed."""
    check_key(metric.key, "key", MetricError)
    _validate_measure(metric.numerator, "")
    if metric.kind == "mean" and metric.property_name is None:
        raise MetricError("property", "a mean metric sums a numeric property per unit: name it")
    if metric.kind in ("conversion", "count") and metric.property_name is not None:
        raise MetricError("property", f"a {metric.kind} metric counts events: remove the property")
    if (metric.kind == "ratio") != (metric.denominator is not None):
        raise MetricError("denominator", "a ratio metric needs a denominator, other kinds none")
    if metric.denominator is not None:
        _validate_measure(metric.denominator, "denominator.")
    if metric.window_hours is not None and not 0 < metric.window_hours <= 24 * 366:
        raise MetricError("window_hours", "must be more than 0 and at most a year")
    if metric.cap is not None:
        if metric.kind == "conversion":
            raise MetricError("cap", "a conversion is 0 or 1: there is nothing to cap")
        limit = (0.0, math.inf) if metric.cap.kind == "absolute" else (0.0, 1.0)
        if not (limit[0] < metric.cap.value < limit[1]):
            raise MetricError("cap.value", "absolute caps must be > 0, percentiles in (0, 1)")


def _validate_measure(measure: Measure, prefix: str) -> None:
    if not measure.event or len(measure.event) > 200:
        raise MetricError(f"{prefix}event", "name the event (at most 200 characters)")
    if measure.property_name is not None and not PROPERTY_PATTERN.fullmatch(measure.property_name):
        raise MetricError(f"{prefix}property", "use letters, digits, '_', '$', '.', '-' (max 128)")
    if len(measure.filters) > _MAX_FILTERS:
        raise MetricError(f"{prefix}filters", f"at most {_MAX_FILTERS} filters")
    try:
        validate_filters(measure.filters, f"{prefix}filters")
    except InsightError as error:
        raise MetricError(error.field, error.reason) from None
    for index, condition in enumerate(measure.filters):
        if condition.type != "event":
            raise MetricError(f"{prefix}filters[{index}].type", "metric filters are on event properties")


def _upgraded(document: bytes | str) -> bytes | str:
    """`document` with legacy filters (`equals`/`in` keys) rewritten as `equals`/`in` operators.

    Anything that is not a JSON object with such filters is returned as it is, for
    `decode_document` to accept or refuse naming the field.
    """
    try:
        decoded = msgspec.json.decode(document)
    except UNREADABLE_JSON:
        return document
    if not isinstance(decoded, dict):
        return document
    measures = [("", decoded)]
    if isinstance(decoded.get("denominator"), dict):
        measures.append(("denominator.", decoded["denominator"]))
    changed = False
    for prefix, measure in measures:
        filters = measure.get("filters")
        if not isinstance(filters, list):
            continue
        for index, condition in enumerate(filters):
            if isinstance(condition, dict) and "operator" not in condition and ({"equals", "in"} & condition.keys()):
                filters[index] = _upgraded_filter(condition, f"{prefix}filters[{index}]")
                changed = True
    return msgspec.json.encode(decoded) if changed else document


def _upgraded_filter(condition: dict[str, object], field: str) -> dict[str, object]:
    if ("equals" in condition) == ("in" in condition):
        raise MetricError(field, "give exactly one of 'equals' or 'in'")
    rest = {key: value for key, value in condition.items() if key not in ("equals", "in")}
    if "equals" in condition:
        return {**rest, "operator": "equals", "value": condition["equals"]}
    values = condition["in"]
    if not isinstance(values, list) or not values:
        raise MetricError(f"{field}.in", "give 1 to 100 values")
    return {**rest, "operator": "in", "value": values}


def conversion_metric(event: str, window_hours: float) -> MetricDefinition:
    """The metric an experiment's `conversion_event` stands for (backward compatible)."""
    return MetricDefinition(
        key=IMPLICIT_CONVERSION_KEY,
        kind="conversion",
        event=event,
        name=f"conversion: {event}",
        window_hours=window_hours,
    )
