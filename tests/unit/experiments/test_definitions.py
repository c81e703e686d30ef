"""Experiment definitions: invalid ones are refused with the field to fix."""

from __future__ import annotations

import json

import pytest

from experiments.definitions import DefinitionError, parse_definition

VALID = {
    "key": "checkout-button",
    "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    "conversion_event": "Order Completed",
}


def _parse(**changes: object) -> object:
    return parse_definition(json.dumps({**VALID, **changes}))


def test_valid_definition_defaults_salt_to_key() -> None:
    definition = _parse()
    assert definition.assignment_salt == "checkout-button"
    assert definition.control.key == "control"
    assert definition.conversion_window_hours == 168


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"key": "has space"}, "key"),
        ({"variants": [{"key": "only", "weight": 1.0}]}, "variants"),
        ({"variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.6}]}, "variants"),
        ({"variants": [{"key": "a", "weight": 0.5}, {"key": "a", "weight": 0.5}]}, "variants"),
        ({"variants": [{"key": "a", "weight": -0.5}, {"key": "b", "weight": 1.5}]}, "variants[0].weight"),
        ({"variants": [{"key": "a", "weight": "half"}, {"key": "b", "weight": 0.5}]}, "variants[0].weight"),
        ({"coverage": 1.5}, "coverage"),
        ({"conversion_event": ""}, "conversion_event"),
        ({"conversion_window_hours": 0}, "conversion_window_hours"),
        ({"colour": "blue"}, "definition"),
        ({"guardrail_metrics": ["latency", "latency"]}, "guardrail_metrics"),
        ({"metrics": ["latency"], "guardrail_metrics": ["latency"]}, "guardrail_metrics"),
        ({"guardrail_metrics": ["conversion"]}, "guardrail_metrics"),
    ],
)
def test_invalid_definitions_name_the_field(changes: dict, field: str) -> None:
    with pytest.raises(DefinitionError) as error:
        _parse(**changes)
    assert error.value.field == field
