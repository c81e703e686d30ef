"""Targeting conditions: operator truth tables, combinators, versions, and errors naming the path."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdk.targeting import TargetingError, compile_condition, version_key

MISSING = object()


def _holds(op: str, value: Any, attribute: Any) -> bool:
    attributes = {} if attribute is MISSING else {"a": attribute}
    return compile_condition({"attribute": "a", "op": op, "value": value})(attributes)


@pytest.mark.parametrize(
    ("op", "value", "attribute", "expected"),
    [
        ("equals", "US", "US", True), ("equals", "US", "us", False), ("equals", 1, 1.0, True),
        ("equals", 1, "1", False), ("equals", 1, True, False), ("equals", True, True, True),
        ("equals", True, 1, False), ("equals", "US", MISSING, False), ("equals", "US", None, False),
        ("not_equals", "US", "CA", True), ("not_equals", "US", "US", False),
        ("not_equals", "US", MISSING, False), ("not_equals", 1, [1], False),
        ("in", ["US", "CA"], "CA", True), ("in", ["US", "CA"], "FR", False), ("in", [1, 2], 2.0, True),
        ("in", [1, 2], True, False), ("in", [True], 1, False), ("in", ["1"], 1, False),
        ("in", ["US"], MISSING, False), ("in", ["US"], ["US"], False),
        ("not_in", ["US"], "CA", True), ("not_in", ["US"], "US", False), ("not_in", ["US"], MISSING, False),
        ("gt", 18, 19, True), ("gt", 18, 18, False), ("gte", 18, 18, True), ("gte", 18, 17.99, False),
        ("lt", 65, 64.9, True), ("lt", 65, 65, False), ("lte", 65, 65, True), ("lte", 65, 66, False),
        ("gt", 18, "19", False), ("gt", 0, True, False), ("gt", 0, float("nan"), False), ("gt", 0, MISSING, False),
        ("regex", "^a.c$", "abc", True), ("regex", "b", "abc", True), ("regex", "^b", "abc", False),
        ("regex", "1", 1, False), ("regex", "x", MISSING, False),
        ("exists", True, "x", True), ("exists", True, MISSING, False), ("exists", True, None, False),
        ("exists", False, MISSING, True), ("exists", False, None, True), ("exists", False, 0, False),
        ("version_gt", "1.9.2", "1.10.0", True), ("version_gt", "1.10.0", "1.9.2", False),
        ("version_eq", "1.2", "1.2.0", True), ("version_eq", "1.2.0", "v1.2.0+build", True),
        ("version_lt", "1.0.0", "1.0.0-rc.1", True), ("version_gte", "1.0.0", "1.0.0", True),
        ("version_lte", "2.0.0", "2.0.1", False), ("version_gt", "1.0.0", "garbage", False),
        ("version_gt", "1.0.0", 2, False), ("version_lt", "1.0.0", MISSING, False),
    ],
)
def test_operator_truth_table(op: str, value: Any, attribute: Any, expected: bool) -> None:
    assert _holds(op, value, attribute) is expected


@pytest.mark.parametrize(
    ("country", "plan", "expected"),
    [("US", "pro", True), ("US", "free", False), ("FR", "pro", False), ("FR", "free", False), ("CA", None, True)],
)
def test_all_any_not_combine(country: str, plan: str | None, expected: bool) -> None:
    condition = {"all": [
        {"attribute": "country", "op": "in", "value": ["US", "CA"]},
        {"not": {"attribute": "plan", "op": "equals", "value": "free"}},
        {"any": [{"attribute": "country", "op": "equals", "value": "CA"},
                 {"attribute": "plan", "op": "exists", "value": True}]},
    ]}
    assert compile_condition(condition)({"country": country, "plan": plan}) is expected


def test_empty_all_holds_empty_any_does_not_and_none_targets_everyone() -> None:
    assert compile_condition({"all": []})({}) is True
    assert compile_condition({"any": []})({}) is False
    assert compile_condition(None)({}) is True


def test_versions_sort_like_semver() -> None:
    ordered = ["0.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.0.1", "1.9.2", "1.10.0", "v2"]
    keys = [version_key(version) for version in ordered]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert version_key("1.2") == version_key("1.2.0") == version_key("V1.2.0+meta")
    for invalid in ("", "1..2", "a.b", "1.2-", "1.2.x", "١.٢", None, 3):
        assert version_key(invalid) is None


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ([], "targeting"),
        ({"attribute": "a", "op": "like", "value": 1}, "targeting.op"),
        ({"attribute": "", "op": "equals", "value": 1}, "targeting.attribute"),
        ({"attribute": "a", "op": "equals"}, "targeting"),
        ({"all": {"attribute": "a"}}, "targeting.all"),
        ({"all": [{"any": [{"not": {"attribute": "a", "op": "gt", "value": "x"}}]}]}, "targeting.all[0].any[0].not.value"),
        ({"attribute": "a", "op": "in", "value": "US"}, "targeting.value"),
        ({"attribute": "a", "op": "in", "value": [["nested"]]}, "targeting.value"),
        ({"attribute": "a", "op": "regex", "value": "("}, "targeting.value"),
        ({"attribute": "a", "op": "version_gt", "value": "one"}, "targeting.value"),
        ({"attribute": "a", "op": "exists", "value": "yes"}, "targeting.value"),
        ({"attribute": "a", "op": "gt", "value": float("nan")}, "targeting.value"),
        ({"all": [], "any": []}, "targeting"),
    ],
)
def test_invalid_conditions_name_the_path(condition: Any, field: str) -> None:
    with pytest.raises(TargetingError) as error:
        compile_condition(condition)
    assert error.value.field == field


def test_nesting_is_bounded() -> None:
    condition: dict[str, Any] = {"attribute": "a", "op": "exists", "value": True}
    for _ in range(20):
        condition = {"not": condition}
    with pytest.raises(TargetingError):
        compile_condition(condition)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)


@given(attributes=st.dictionaries(st.sampled_from(["a", "b", "country"]), _JSON, max_size=3))
def test_compiled_predicates_never_raise_on_any_attribute_values(attributes: dict[str, Any]) -> None:
    for op, value in [("equals", 1), ("not_equals", "x"), ("in", ["x", 1, True]), ("not_in", [2.5]),
                      ("gt", 0), ("lte", 1.5), ("regex", "x"), ("exists", True), ("version_gte", "1.2.3")]:
        predicate = compile_condition({"any": [{"attribute": "a", "op": op, "value": value},
                                               {"not": {"attribute": "b", "op": op, "value": value}}]})
        assert predicate(attributes) in (True, False)
