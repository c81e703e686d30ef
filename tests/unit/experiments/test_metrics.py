"""Metric definitions: invalid ones are refused with the field to fix, before any SQL exists."""

from __future__ import annotations

import json

import msgspec
import pytest

from experiments.metrics import MetricError, parse_metric

REVENUE = {"key": "revenue", "kind": "mean", "event": "Order Completed", "property": "revenue"}


def _parse(**changes: object) -> object:
    return parse_metric(json.dumps({**REVENUE, **changes}))


def test_a_ratio_metric_with_filters_and_cap_parses() -> None:
    metric = _parse(kind="ratio", filters=[{"property": "currency", "in": ["EUR", "USD"]}],
                    denominator={"event": "Session Started"}, cap={"kind": "percentile", "value": 0.99})
    assert metric.numerator.property_name == "revenue"
    assert metric.filters[0].values == ["EUR", "USD"]
    assert metric.denominator.event == "Session Started"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key": "no spaces"}, "key"),
        ({"kind": "median"}, "kind"),
        ({"property": "revenue'); DROP TABLE events; --"}, "property"),
        ({"property": None}, "property"),
        ({"kind": "count"}, "property"),
        ({"kind": "ratio"}, "denominator"),
        ({"denominator": {"event": "S"}}, "denominator"),
        ({"filters": [{"property": "a b", "equals": "x"}]}, "filters[0].property"),
        ({"filters": [{"property": "plan", "equals": "x", "in": ["y"]}]}, "filters[0]"),
        ({"filters": [{"property": "plan", "in": []}]}, "filters[0].in"),
        ({"window_hours": 0}, "window_hours"),
        ({"cap": {"kind": "percentile", "value": 1.5}}, "cap.value"),
        ({"kind": "conversion", "property": None, "cap": {"kind": "absolute", "value": 3}}, "cap"),
        ({"event": ""}, "event"),
        ({"colour": "red"}, "metric"),
    ],
)
def test_invalid_metrics_name_the_field(changes: dict, field: str) -> None:
    with pytest.raises(MetricError) as error:
        _parse(**changes)
    assert error.value.field == field


def test_legacy_filters_are_read_as_the_shared_filter_shape_and_new_ones_parse() -> None:
    legacy = _parse(filters=[{"property": "currency", "equals": "EUR"}],
                    kind="ratio", denominator={"event": "S", "filters": [{"property": "plan", "in": ["pro", 3]}]})
    assert [(f.operator, f.value) for f in legacy.filters] == [("equals", "EUR")]
    assert [(f.operator, f.values) for f in legacy.denominator.filters] == [("in", ["pro", "3"])]
    shared = _parse(filters=[{"property": "amount", "operator": "gte", "value": 10},
                             {"property": "coupon", "operator": "is_not_set"}])
    assert parse_metric(json.dumps(json.loads(msgspec.json.encode(shared)))) == shared  # stored as it reads back
    with pytest.raises(MetricError) as person:
        _parse(filters=[{"property": "plan", "operator": "equals", "value": "pro", "type": "person"}])
    assert person.value.field == "filters[0].type"
