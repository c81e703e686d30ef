"""Experiment evaluation in the SDK: published vectors, split, independence, layers, coverage, overrides."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chisquare

from sdk.assignment import assign_variant, bucket
from sdk.experiments import LAYER_SALT_PREFIX, Experiment, InvalidDefinition

EVALUATION = json.loads((Path(__file__).parents[2] / "vectors" / "assignment.json").read_text())["evaluation"]
EXPERIMENTS = {definition["key"]: definition for definition in EVALUATION["experiments"]}
AB = [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]


def _experiment(**fields: Any) -> Experiment:
    return Experiment({"key": "exp", "status": "running", "variants": AB, **fields})


@pytest.mark.parametrize("case", EVALUATION["cases"], ids=lambda c: f"{c['experiment']}/{c['unit_id']}")
def test_published_evaluation_vectors(case: dict[str, Any]) -> None:
    definition = EXPERIMENTS[case["experiment"]]
    result = Experiment(definition).evaluate(case["unit_id"], case["attributes"], case.get("anonymous_id"))
    assert (result.variant, result.payload, result.in_experiment, result.reason) == (
        case["variant"], case["payload"], case["in_experiment"], case["reason"])
    if "bucket" in case:  # the published hash, computed by the reference function
        assert bucket(definition.get("salt") or definition["key"], case.get("anonymous_id") or case["unit_id"]) == case["bucket"]
    if "layer_bucket" in case:
        assert bucket(LAYER_SALT_PREFIX + definition["layer"]["name"], case["unit_id"]) == case["layer_bucket"]


@given(salt=st.text(max_size=20), unit_id=st.text(min_size=1, max_size=40),
       weights=st.lists(st.integers(1, 10), min_size=2, max_size=5), coverage=st.floats(0, 1))
def test_evaluation_agrees_with_the_reference_assignment(salt: str, unit_id: str, weights: list[int],
                                                         coverage: float) -> None:
    shares = [w / sum(weights) for w in weights]
    variants = [f"v{i}" for i in range(len(shares))]
    experiment = Experiment({"key": "k", "salt": salt, "status": "running", "coverage": coverage,
                             "variants": [{"key": v, "weight": w} for v, w in zip(variants, shares)]})
    result = experiment.evaluate(unit_id)
    expected = assign_variant(salt or "k", unit_id, variants, shares, coverage)
    assert result.in_experiment == (expected is not None)
    assert result.variant == (expected or "v0")


def test_split_matches_weights_over_a_million_ids() -> None:
    weights = [0.1, 0.2, 0.3, 0.4]
    experiment = Experiment({"key": "split-1m", "status": "running",
                             "variants": [{"key": str(i), "weight": w} for i, w in enumerate(weights)]})
    evaluate = experiment.evaluate
    counts: dict[str | None, int] = dict.fromkeys("0123", 0)
    for n in range(1_000_000):
        counts[evaluate(f"u{n}").variant] += 1
    observed = [counts[str(i)] for i in range(4)]
    assert chisquare(observed, [1_000_000 * w for w in weights]).pvalue > 0.001


def test_experiments_with_different_salts_are_independent() -> None:
    first, second = _experiment(salt="one"), _experiment(salt="two")
    ids = [f"user-{n}" for n in range(50_000)]
    a = np.array([first.evaluate(i).variant == "treatment" for i in ids])
    b = np.array([second.evaluate(i).variant == "treatment" for i in ids])
    table = np.array([[np.sum(~a & ~b), np.sum(~a & b)], [np.sum(a & ~b), np.sum(a & b)]])
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    assert ((table - expected) ** 2 / expected).sum() < 10.83  # chi-square(1) at p = 0.001


def test_layer_ranges_are_mutually_exclusive_and_fill_their_share() -> None:
    slices = [(0.0, 0.2), (0.2, 0.7), (0.7, 1.0)]
    layer = [_experiment(key=f"layered-{i}", layer={"name": "home", "start": s, "end": e})
             for i, (s, e) in enumerate(slices)]
    other_layer = _experiment(key="elsewhere", layer={"name": "search", "start": 0.0, "end": 0.2})
    memberships = np.zeros(len(slices), dtype=int)
    both = 0
    for n in range(30_000):
        inside = [experiment.evaluate(f"u{n}").in_experiment for experiment in layer]
        assert sum(inside) == 1  # the slices tile the layer: exactly one experiment each
        memberships += inside
        both += inside[0] and other_layer.evaluate(f"u{n}").in_experiment
    expected = [30_000 * (e - s) for s, e in slices]
    assert chisquare(memberships, expected).pvalue > 0.001
    assert abs(both - 30_000 * 0.2 * 0.2) < 4 * np.sqrt(30_000 * 0.04)  # layers are independent


@given(unit_id=st.text(min_size=1, max_size=30), low=st.floats(0, 1), high=st.floats(0, 1),
       layer_end=st.floats(0.05, 1), weights=st.lists(st.integers(1, 9), min_size=2, max_size=4))
def test_raising_coverage_only_adds_units(unit_id: str, low: float, high: float, layer_end: float,
                                         weights: list[int]) -> None:
    low, high = sorted((low, high))
    variants = [{"key": f"v{i}", "weight": w / sum(weights)} for i, w in enumerate(weights)]
    layer = {"name": "l", "start": 0.0, "end": layer_end}
    before = _experiment(variants=variants, layer=layer, coverage=low).evaluate(unit_id)
    after = _experiment(variants=variants, layer=layer, coverage=high).evaluate(unit_id)
    if before.in_experiment:
        assert after.in_experiment and after.variant == before.variant


def test_overrides_win_over_targeting_and_are_not_exposures() -> None:
    experiment = _experiment(overrides={"qa": "treatment"},
                             variants=[{"key": "control", "weight": 1.0}, {"key": "treatment", "weight": 0.0,
                                                                            "payload": {"x": 1}}],
                             targeting={"attribute": "country", "op": "equals", "value": "US"})
    forced = experiment.evaluate("qa", {"country": "FR"})
    assert (forced.variant, forced.payload, forced.in_experiment, forced.reason) == ("treatment", {"x": 1}, False, "override")
    assert experiment.evaluate("someone", {"country": "US"}).variant == "control"
    assert _experiment(status="stopped", overrides={"qa": "treatment"}).evaluate("qa").reason == "not_running"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"key": ""}, "key"),
        ({"variants": []}, "variants"),
        ({"variants": [{"key": "a", "weight": 0.7}, {"key": "b", "weight": 0.7}]}, "variants"),
        ({"variants": [{"key": "a", "weight": 0.5}, {"key": "a", "weight": 0.5}]}, "variants"),
        ({"variants": [{"key": "a", "weight": "1"}]}, "variants[0].weight"),
        ({"coverage": 2}, "coverage"),
        ({"layer": {"name": "l", "start": 0.5, "end": 0.5}}, "layer"),
        ({"layer": {"start": 0.0}}, "layer.name"),
        ({"overrides": {"u": "nope"}}, "overrides.u"),
        ({"targeting": {"attribute": "a", "op": "gt", "value": "x"}}, "targeting.value"),
    ],
)
def test_invalid_documents_name_the_field(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidDefinition) as error:
        _experiment(**fields)
    assert error.value.field == field


@pytest.mark.parametrize("module", ["targeting", "experiments", "definition_source", "exposures"])
def test_sdk_experiment_modules_import_only_the_standard_library(module: str) -> None:
    tree = ast.parse((Path(__file__).parents[3] / "sdk" / f"{module}.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}
