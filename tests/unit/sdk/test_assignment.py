"""The assignment hash: deterministic, published vectors, weights respected, coverage monotone."""

from __future__ import annotations

import json
from pathlib import Path

import chdb
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import chisquare

from sdk.assignment import assign_variant, bucket, choose_variant, variant_ranges

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "assignment.json").read_text())["cases"]


@pytest.mark.parametrize("case", VECTORS, ids=lambda case: f"{case['salt']}/{case['unit_id']}")
def test_published_vectors(case: dict) -> None:
    assert bucket(case["salt"], case["unit_id"]) == case["bucket"]
    variant = assign_variant(case["salt"], case["unit_id"], case["variants"], case["weights"], case["coverage"])
    assert variant == case["variant"]


def test_clickhouse_computes_the_same_bucket() -> None:
    """Analysis can recompute assignments in SQL: ClickHouse's SHA256 gives the same buckets."""
    for case in VECTORS:
        salt, unit_id = case["salt"].replace("'", "''"), case["unit_id"].replace("'", "''")
        sql = (
            "SELECT reinterpretAsUInt32(reverse(substring(SHA256(concat("
            f"'{salt}', ':', '{unit_id}')), 1, 4))) / 4294967296"
        )
        assert float(chdb.query(sql, "CSV").bytes().decode()) == pytest.approx(case["bucket"], abs=1e-15)


def test_split_matches_weights_over_100k_ids() -> None:
    weights = [0.2, 0.3, 0.5]
    variants = ["a", "b", "c"]
    assigned = [assign_variant("split-test", f"user-{n}", variants, weights) for n in range(100_000)]
    observed = [assigned.count(variant) for variant in variants]
    expected = [100_000 * weight for weight in weights]
    assert chisquare(observed, expected).pvalue > 0.001


def test_experiments_with_different_salts_are_independent() -> None:
    ids = [f"user-{n}" for n in range(40_000)]
    first = np.array([assign_variant("exp-one", i, ["a", "b"], [0.5, 0.5]) == "b" for i in ids])
    second = np.array([assign_variant("exp-two", i, ["a", "b"], [0.5, 0.5]) == "b" for i in ids])
    table = np.array([[np.sum(~first & ~second), np.sum(~first & second)],
                      [np.sum(first & ~second), np.sum(first & second)]])
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = ((table - expected) ** 2 / expected).sum()
    assert statistic < 10.83  # chi-square(1) at p = 0.001


@given(
    salt=st.text(max_size=20),
    unit_id=st.text(max_size=40),
    weights=st.lists(st.integers(1, 10), min_size=2, max_size=5),
    low=st.floats(0, 1),
    high=st.floats(0, 1),
)
def test_raising_coverage_never_moves_an_included_unit(
    salt: str, unit_id: str, weights: list[int], low: float, high: float
) -> None:
    low, high = sorted((low, high))
    shares = [w / sum(weights) for w in weights]
    variants = [f"v{i}" for i in range(len(shares))]
    before = assign_variant(salt, unit_id, variants, shares, low)
    after = assign_variant(salt, unit_id, variants, shares, high)
    assert before is None or before == after


@given(salt=st.text(max_size=20), unit_id=st.text(max_size=40))
def test_bucket_is_in_unit_interval_and_deterministic(salt: str, unit_id: str) -> None:
    position = bucket(salt, unit_id)
    assert 0.0 <= position < 1.0
    assert bucket(salt, unit_id) == position


def test_full_coverage_ranges_tile_the_interval() -> None:
    ranges = variant_ranges([0.25, 0.25, 0.5])
    assert ranges == [(0.0, 0.25), (0.25, 0.5), (0.5, 1.0)]
    assert choose_variant(0.0, ranges) == 0
    assert choose_variant(0.25, ranges) == 1
    assert choose_variant(0.999999, ranges) == 2
    assert choose_variant(0.3, variant_ranges([0.5, 0.5], coverage=0.5)) is None
