"""Targeting regexes are refused on save when they could backtrack without bound; the check is
the SDK's own (`sdk.targeting.check_pattern`), so the server and every SDK refuse the same."""

from __future__ import annotations

import msgspec
import pytest

from experiments.definitions import DefinitionError, parse_definition
from sdk.targeting import MAX_REGEX_SUBJECT, TargetingError, check_pattern, compile_condition


@pytest.mark.parametrize("pattern", [
    r"(a+)+$", r"(a|a)*", r"(.*)*", r"^(a|aa)+$", r"(\w+\s?)+$",  # nested quantifiers: exponential
    r".*.*.*x", r"a*a*a*x", r"\w*\w*\w*\w*x", r".*.*x",  # polynomial of high degree
    r"(a)\1", r"(a)?(?(1)b|c)",  # backreferences, conditionals
])
def test_backtracking_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(TargetingError, match="regular expression"):
        check_pattern(pattern)


@pytest.mark.parametrize("pattern", [
    r"@(acme|globex)\.com$", r"^(ios|android)$", r".*x", r"^https://.*\.example\.com/.*$",
    r"[a-z]+@[a-z]+\.com", r"\w+@\w+\.\w+", r"[^@]+@[^@]+$", r"^\d{1,3}(\.\d{1,3}){3}$", r"(?i)beta", r"(ab)+",
])
def test_ordinary_targeting_patterns_are_accepted(pattern: str) -> None:
    check_pattern(pattern)


def test_the_refusal_names_the_field_of_the_condition() -> None:
    condition = {"all": [{"attribute": "plan", "op": "equals", "value": "pro"},
                         {"attribute": "email", "op": "regex", "value": "(a+)+$"}]}
    with pytest.raises(TargetingError) as refused:
        compile_condition(condition)
    assert refused.value.field == "targeting.all[1].value"
    assert "nests a quantifier" in str(refused.value)


def test_a_definition_with_such_a_pattern_is_refused_on_save() -> None:
    definition = {"key": "regex-bomb", "conversion_event": "Order Completed",
                  "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
                  "targeting": {"attribute": "email", "op": "regex", "value": "(.*)*@example"}}
    with pytest.raises(DefinitionError) as refused:
        parse_definition(msgspec.json.encode(definition))
    assert refused.value.field == "targeting.value"


def test_strings_past_the_subject_limit_never_match() -> None:
    targeted = compile_condition({"attribute": "path", "op": "regex", "value": "^/"})
    assert targeted({"path": "/" + "a" * (MAX_REGEX_SUBJECT - 1)})
    assert not targeted({"path": "/" + "a" * MAX_REGEX_SUBJECT})
