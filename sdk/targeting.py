"""Targeting conditions: a small JSON language deciding which units an experiment may include.

A condition is a leaf ``{"attribute": "country", "op": "in", "value": ["US", "CA"]}`` or a
combination ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``. It is compiled once
(when definitions arrive) into a predicate over the unit's attributes, so evaluating it costs
a few dictionary look-ups. The semantics are part of the published contract and pinned by
`tests/vectors/assignment.json`:

- Types are strict, as in JSON: ``"1"`` never equals ``1``, ``true`` never equals ``1``.
- A missing attribute (absent or null) fails every operator except ``exists`` with value
  ``false``; wrap a condition in ``not`` to include units that lack the attribute.
- ``gt``/``gte``/``lt``/``lte`` compare numbers only; ``regex`` searches (Python ``re``)
  strings of at most 1,024 characters only (longer ones never match); ``version_*`` compare semver-ish strings: ``"v1.10.0" > "1.9.2"``,
  ``"1.2" == "1.2.0"``, ``"1.0.0-beta.2" < "1.0.0"``, build metadata ignored.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal, cast, get_args

if sys.version_info >= (3, 11):
    from re import _constants as _sre
    from re import _parser as _sre_parse
else:  # pragma: no cover - Python 3.10
    import sre_constants as _sre
    import sre_parse as _sre_parse

__all__ = ["Operator", "Predicate", "TargetingError", "check_pattern", "compile_condition", "version_key"]

Operator = Literal[
    "equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "regex", "exists",
    "version_eq", "version_gt", "version_gte", "version_lt", "version_lte",
]
OPERATORS: frozenset[str] = frozenset(get_args(Operator))

Predicate = Callable[[Mapping[str, Any]], bool]
"""Compiled condition: attributes → whether the unit is targeted. Never raises on any mapping."""

_MAX_DEPTH = 16
_MAX_VALUES = 10_000
_MAX_PATTERN = 1_000
MAX_REGEX_SUBJECT = 1_024
"""Characters of a string a ``regex`` condition searches; a longer string never matches."""
_MAX_REGEX_STEPS = 16 << 20
"""Backtracking steps a pattern may need at worst over `MAX_REGEX_SUBJECT` characters (see `check_pattern`)."""
_MAX_CACHED_VERSIONS = 1_024
_LEAF_KEYS = frozenset({"attribute", "op", "value"})
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
}


class TargetingError(ValueError):
    """An invalid condition; `field` is the path to it, e.g. ``targeting.all[1].value``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def compile_condition(condition: Any, field: str = "targeting") -> Predicate:
    """Compile a JSON condition (None: everyone) into a predicate; raises TargetingError."""
    if condition is None:
        return _everyone
    return _compile(condition, field, 0)


def version_key(text: Any) -> tuple[Any, ...] | None:
    """Sort key of a semver-ish version string, or None when it is not one.

    Trailing zero components are dropped so "1.2" and "1.2.0" are equal; a release sorts
    after its pre-releases, whose dot-separated identifiers compare as semver says.
    """
    if type(text) is not str:
        return None
    core, dash, prerelease = text.strip().removeprefix("v").removeprefix("V").partition("+")[0].partition("-")
    parts = core.split(".")
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    numbers = [int(part) for part in parts]
    while numbers and numbers[-1] == 0:
        numbers.pop()
    if not dash:
        return (tuple(numbers), 1, ())
    identifiers = prerelease.split(".")
    if not all(identifiers):
        return None
    ranked = tuple((0, int(i), "") if i.isascii() and i.isdigit() else (1, 0, i) for i in identifiers)
    return (tuple(numbers), 0, ranked)


def _everyone(attributes: Mapping[str, Any]) -> bool:
    return True


def _all_of(predicates: tuple[Predicate, ...]) -> Predicate:
    def all_of(attributes: Mapping[str, Any]) -> bool:
        for predicate in predicates:
            if not predicate(attributes):
                return False
        return True

    return all_of


def _any_of(predicates: tuple[Predicate, ...]) -> Predicate:
    def any_of(attributes: Mapping[str, Any]) -> bool:
        for predicate in predicates:
            if predicate(attributes):
                return True
        return False

    return any_of


def _compile(condition: Any, field: str, depth: int) -> Predicate:
    if depth > _MAX_DEPTH:
        raise TargetingError(field, f"conditions nest at most {_MAX_DEPTH} deep")
    if not isinstance(condition, Mapping):
        raise TargetingError(field, "a condition is an object: {attribute, op, value}, all, any or not")
    if len(condition) == 1 and ("all" in condition or "any" in condition):
        combinator = "all" if "all" in condition else "any"
        parts = condition[combinator]
        if not isinstance(parts, list):
            raise TargetingError(f"{field}.{combinator}", "must be a list of conditions")
        predicates = tuple(_compile(part, f"{field}.{combinator}[{i}]", depth + 1) for i, part in enumerate(parts))
        return _all_of(predicates) if combinator == "all" else _any_of(predicates)
    if len(condition) == 1 and "not" in condition:
        negated = _compile(condition["not"], f"{field}.not", depth + 1)
        return lambda attributes: not negated(attributes)
    if set(condition) != _LEAF_KEYS:
        raise TargetingError(field, "a condition is {attribute, op, value}, {all: [...]}, {any: [...]} or {not: ...}")
    attribute, op = condition["attribute"], condition["op"]
    if type(attribute) is not str or not attribute:
        raise TargetingError(f"{field}.attribute", "name the attribute")
    if op not in OPERATORS:
        raise TargetingError(f"{field}.op", f"unknown operator {op!r}; one of {', '.join(sorted(OPERATORS))}")
    expected = condition["value"]
    test = _leaf_test(op, expected, f"{field}.value")
    if op == "exists":
        return lambda attributes: test(attributes.get(attribute))
    if op == "equals" and type(expected) is str:  # the common cases, in one call: a str equals only a str
        return lambda attributes: attributes.get(attribute) == expected
    if op == "in" and all(type(value) is str for value in expected):
        strings = frozenset(expected)

        def in_strings(attributes: Mapping[str, Any]) -> bool:
            try:
                return attributes.get(attribute) in strings
            except TypeError:  # an unhashable value (list, dict) is in no list of strings
                return False

        return in_strings

    def leaf(attributes: Mapping[str, Any]) -> bool:
        value = attributes.get(attribute)
        return value is not None and test(value)

    return leaf


def _leaf_test(op: str, expected: Any, field: str) -> Callable[[Any], bool]:
    """The test an attribute value (not None, except for `exists`) must pass."""
    if op == "exists":
        if type(expected) is not bool:
            raise TargetingError(field, "exists takes true or false")
        return lambda value: (value is not None) == expected
    if op in ("equals", "not_equals"):
        if not _is_scalar(expected):
            raise TargetingError(field, f"{op} takes a string, number or boolean")
        if op == "equals":
            return lambda value: _same(value, expected)
        return lambda value: _is_scalar(value) and not _same(value, expected)
    if op in ("in", "not_in"):
        if not isinstance(expected, list) or len(expected) > _MAX_VALUES or not all(map(_is_scalar, expected)):
            raise TargetingError(field, f"{op} takes a list of at most {_MAX_VALUES} strings, numbers or booleans")
        members = _Members(expected)
        if op == "in":
            return members.__contains__
        return lambda value: _is_scalar(value) and value not in members
    if op in ("gt", "gte", "lt", "lte"):
        if not _is_number(expected) or math.isnan(expected):
            raise TargetingError(field, f"{op} takes a number")
        compare = _COMPARE[op]
        return lambda value: _is_number(value) and compare(value, expected)
    if op == "regex":
        if type(expected) is not str or len(expected) > _MAX_PATTERN:
            raise TargetingError(field, f"regex takes a pattern of at most {_MAX_PATTERN} characters")
        search = check_pattern(expected, field).search
        return lambda value: type(value) is str and len(value) <= MAX_REGEX_SUBJECT and search(value) is not None
    expected_key = version_key(expected)
    if expected_key is None:
        raise TargetingError(field, f"{op} takes a version such as \"1.10.0\"")
    compare = _COMPARE[op.removeprefix("version_")]
    results: dict[str, bool] = {}  # an app sees few distinct versions: parse each once

    def version_test(value: Any) -> bool:
        if type(value) is not str:
            return False
        result = results.get(value)
        if result is None:
            key = version_key(value)
            result = key is not None and compare(key, expected_key)
            if len(results) >= _MAX_CACHED_VERSIONS:
                results.clear()
            results[value] = result
        return result

    return version_test


def check_pattern(pattern: str, field: str = "regex") -> re.Pattern[str]:
    """`pattern` compiled, if searching any string of up to `MAX_REGEX_SUBJECT` characters
    with it takes a bounded time; else TargetingError naming `field`.

    Python's `re` backtracks, holding the GIL (another thread does not help): ``(a+)+$``
    took 4 s on 27 characters, doubling per character. Refused: a quantifier over anything
    that itself repeats or branches (``(a+)+``, ``(a|a)*``, ``(.*)*``), backreferences and
    conditionals; and patterns whose worst case, about the product of their repeats' ranges
    (times the subject's length when not anchored with ``^``), exceeds `_MAX_REGEX_STEPS`
    (``.*.*.*x`` took 77 s on 1,024 characters; the accepted patterns measured take a few
    milliseconds at worst: ``.*x`` 2 ms, ``\\w+@\\w+\\.\\w+`` 4 ms). The SDK and the
    server both compile targeting through here, so a definition refused on save is never
    evaluated.
    """
    try:
        compiled = re.compile(pattern)
        parsed = _sre_parse.parse(pattern)
    except re.error as error:
        raise TargetingError(field, f"invalid regular expression: {error}") from None
    items: list[Any] = list(cast(Iterable[Any], parsed))
    steps = _sequence_steps(items, field)
    if not (items and items[0] == (_sre.AT, _sre.AT_BEGINNING)):
        steps *= MAX_REGEX_SUBJECT  # search tries every start position
    if steps > _MAX_REGEX_STEPS:
        raise TargetingError(field, "regular expression may backtrack too long (more than "
                             f"{_MAX_REGEX_STEPS:,} steps on {MAX_REGEX_SUBJECT:,} characters): use fewer "
                             "unbounded repeats such as .* (a search finds a match anywhere, a leading or "
                             "trailing .* adds nothing), or anchor it with ^")
    return compiled


_REPEATS = frozenset({_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", _sre.MAX_REPEAT)})
_SUBPATTERNS = frozenset({_sre.SUBPATTERN, getattr(_sre, "ATOMIC_GROUP", _sre.SUBPATTERN)})
_REFUSED = {_sre.GROUPREF: "backreferences", _sre.GROUPREF_EXISTS: "conditional groups"}
_MAX_NESTED_REPEAT = 16
"""A repeat of something that can itself match in several ways may repeat this often at most."""
_CATEGORIES: dict[Any, Callable[[str], bool]] = {
    _sre.CATEGORY_DIGIT: str.isdigit, _sre.CATEGORY_SPACE: str.isspace,
    _sre.CATEGORY_WORD: lambda c: c.isalnum() or c == "_",
}


def _sequence_steps(items: list[Any], field: str) -> int:
    """An upper bound on the ways a parsed sequence can match at one position.

    Items multiply, except after a repeat of one character class followed by a literal it
    cannot match (``[a-z]+@``): that repeat can end in one place only, so what follows is
    tried once per way of it, not once per combination.
    """
    steps = 1
    for index in range(len(items) - 1, -1, -1):
        op, argument = items[index]
        if op in _REPEATS and index + 1 < len(items) and _ends_before(argument[2], items[index + 1]):
            steps += min(argument[1], MAX_REGEX_SUBJECT) + 1
        else:
            steps *= _item_steps(op, argument, field)
    return steps


def _item_steps(op: Any, argument: Any, field: str) -> int:
    if op in _REFUSED:
        raise TargetingError(field, f"regular expression uses {_REFUSED[op]}, which can backtrack without bound")
    if op in _REPEATS:
        low, high, body = argument
        body_steps = _sequence_steps(list(body), field)
        if body_steps == 1:
            return int(min(high, MAX_REGEX_SUBJECT)) + 1
        if high > _MAX_NESTED_REPEAT:
            raise TargetingError(field, "regular expression nests a quantifier over a repeat or an alternation "
                                 "(such as (a+)+, (a|a)* or (.*)*), which backtracks exponentially: use one "
                                 "quantifier, or a character class")
        return int((high + 1) * body_steps ** high)
    if op == _sre.BRANCH:
        return sum(_sequence_steps(list(branch), field) for branch in argument[1])
    if op in _SUBPATTERNS:
        return _sequence_steps(list(argument[-1]), field)
    if op in (_sre.ASSERT, _sre.ASSERT_NOT):
        return _sequence_steps(list(argument[1]), field)
    return 1


def _ends_before(body: Any, following: tuple[Any, Any]) -> bool:
    """Whether a repeat of `body` (one character test) cannot match the literal `following`."""
    items = list(body)
    if following[0] != _sre.LITERAL or len(items) != 1:
        return False
    return not _may_match(items[0], chr(following[1]))


def _may_match(item: tuple[Any, Any], char: str) -> bool:
    """Whether a one-character item may match `char`; True when unsure."""
    op, argument = item
    if op == _sre.LITERAL:
        return chr(argument) == char
    if op == _sre.NOT_LITERAL:
        return chr(argument) != char
    if op != _sre.IN:
        return True
    negated = bool(argument) and argument[0][0] == _sre.NEGATE
    for member_op, member in argument[1:] if negated else argument:
        if member_op == _sre.LITERAL:
            hit = chr(member) == char
        elif member_op == _sre.RANGE:
            hit = member[0] <= ord(char) <= member[1]
        elif member_op == _sre.CATEGORY and member in _CATEGORIES:
            hit = _CATEGORIES[member](char)
        else:
            return True
        if hit:
            return not negated
    return negated


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _is_scalar(value: Any) -> bool:
    return type(value) in (str, int, float, bool)


def _same(value: Any, expected: Any) -> bool:
    """JSON equality: booleans equal only booleans, numbers compare by value."""
    if type(value) is bool or type(expected) is bool:
        return type(value) is type(expected) and value == expected
    return _is_scalar(value) and (type(value) is str) == (type(expected) is str) and value == expected


class _Members:
    """Set membership with JSON equality (Python's `1 in {True}` would be True)."""

    __slots__ = ("_strings", "_numbers", "_booleans")

    def __init__(self, values: list[Any]) -> None:
        self._strings = frozenset(v for v in values if type(v) is str)
        self._numbers = frozenset(v for v in values if _is_number(v))
        self._booleans = frozenset(v for v in values if type(v) is bool)

    def __contains__(self, value: Any) -> bool:
        kind = type(value)
        if kind is str:
            return value in self._strings
        if kind is bool:
            return value in self._booleans
        return kind in (int, float) and value in self._numbers
