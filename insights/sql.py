"""SQL fragments every analysis shares: bound parameters, a property's text, filter conditions.

SQL text only ever holds generated parameter names (`{p0:String}`), column names from this
package and operators from the closed set of `insights.query.OPERATORS`; property names and
values are parameters, read with `JSONExtract*(json, {key:String})` (a bound key, never
interpolated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from insights.query import PropertyFilter

__all__ = ["Parameters", "Rows", "property_text", "property_number", "filter_condition", "property_present"]

Rows = Callable[[str, dict[str, Any]], list[tuple[Any, ...]]]
"""Runs SQL with parameters and returns its rows (`insights.limits.AnalyticalQueries.rows`)."""


class Parameters:
    """Collects query parameters; SQL text only ever holds their generated names."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def __call__(self, value: Any, type_name: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{type_name}}}"


# Every fragment reads the property through the one `JSONExtractRaw(json, key)`: ClickHouse
# computes an expression that occurs several times once, so the event's JSON is parsed once
# per property (JSONHas + JSONType + JSONExtractString parsed it three times: a breakdown
# took 4x as long).
def _raw(json_column: str, key: str) -> str:
    return f"JSONExtractRaw({json_column}, {key})"


def property_text(json_column: str, key: str) -> str:
    """The property's text (String): a string as it is, any other JSON value as its JSON text, '' when missing."""
    raw = _raw(json_column, key)
    return f"if(startsWith({raw}, '\"'), JSONExtractString({raw}), {raw})"


def property_present(json_column: str, key: str) -> str:
    """1 when the property is there and not JSON null."""
    return f"({_raw(json_column, key)} NOT IN ('', 'null'))"


def property_number(json_column: str, key: str) -> str:
    """The property as Nullable(Float64): a number, or a string that is one; NULL otherwise."""
    return f"toFloat64OrNull({property_text(json_column, key)})"


_COMPARISONS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def filter_condition(condition: PropertyFilter, json_column: str, param: Parameters) -> str:
    """A UInt8 SQL condition: does the JSON in `json_column` satisfy `condition`? (validated first)."""
    key = param(condition.property_name, "String")
    text = property_text(json_column, key)
    present = property_present(json_column, key)
    operator = condition.operator
    if operator in ("equals", "in"):
        return f"({present} AND {text} IN {param(condition.values, 'Array(String)')})"
    if operator in ("not_equals", "not_in"):
        return f"NOT ({present} AND {text} IN {param(condition.values, 'Array(String)')})"
    if operator in _COMPARISONS:
        return f"ifNull({property_number(json_column, key)} {_COMPARISONS[operator]} {param(condition.value, 'Float64')}, 0)"
    if operator == "contains":
        return f"({present} AND positionCaseInsensitiveUTF8({text}, {param(condition.values[0], 'String')}) > 0)"
    if operator == "regex":
        return f"({present} AND match({text}, {param(condition.values[0], 'String')}))"
    if operator == "is_set":
        return present
    return f"NOT {present}"
