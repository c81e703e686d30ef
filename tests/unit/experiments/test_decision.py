"""The decision rule: ship / don't ship / keep running / no detectable effect, each with its reason."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from experiments.analysis import analyse
from experiments.definitions import DecisionRule, DefinitionError, MetricRule, validate
from experiments.metrics import MetricDefinition
from experiments.report import render_table
from experiments.result_document import result_document

from .test_analysis import BOUNCES, CONVERSION, DEFINITION, PLANNED, _conversion, _count, _settings, _sums

LATENCY = MetricDefinition(key="latency", kind="mean", event="Page", property_name="ms", higher_is_better=False)


def _rule(definition=PLANNED, **changes: object):
    return msgspec.structs.replace(definition, decision=msgspec.structs.replace(definition.decision, **changes))


def test_a_fixed_horizon_win_before_the_planned_sample_is_too_early_to_call_never_ship() -> None:
    """The demo's case: treatment far ahead at 9 % of the planned sample."""
    sums = _sums([_conversion(5000, 500)], [_conversion(5000, 650)], days=3)
    result = analyse(DEFINITION, [CONVERSION], sums, _settings())
    assert result.metrics[0].comparisons[0].verdict == "win"
    assert result.decision == "keep_running"
    assert result.reason == "too early to call: 9% of planned sample on a fixed-horizon test."
    assert result.plan.planned_units_per_variant == result.metrics[0].sample_size.required_units_per_variant
    assert result.summary.startswith(f"Keep running (about {result.plan.days_remaining} more days): too early")
    assert "WIN" in render_table(result_document(result)) and "Ship" not in result.summary


def test_minimum_runtime_counts_from_the_phase_start_in_whole_weeks() -> None:
    started = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    definition = msgspec.structs.replace(_rule(min_runtime_days=10, whole_weeks=True), phase_started_at=started)
    sums = _sums([_conversion(5000, 500)], [_conversion(5000, 650)])
    early = analyse(definition, [CONVERSION], sums, _settings(), as_of=started + dt.timedelta(days=9, hours=1))
    assert (early.decision, early.plan.min_runtime_days) == ("keep_running", 14)
    assert early.reason == "minimum runtime not reached: 9 of 14 days."
    assert early.plan.days_remaining == 5
    late = analyse(definition, [CONVERSION], sums, _settings(), as_of=started + dt.timedelta(days=14))
    assert late.decision == "ship"


def test_no_detectable_effect_at_the_planned_sample_says_stop() -> None:
    definition = _rule(planned_units_per_variant=50_000)
    sums = _sums([_conversion(50_000, 5000)], [_conversion(50_000, 5010)])
    result = analyse(definition, [CONVERSION], sums, _settings())
    assert result.decision == "no_effect"
    assert result.summary == ("No detectable effect \u2014 stop: at the planned sample the interval on orders "
                              "rules out the +5% target.")
    assert result.metrics[0].comparisons[0].effect.relative_ci[1] < 0.05


def test_a_one_sided_test_not_significant_at_its_planned_sample_is_no_detectable_effect() -> None:
    definition = _rule(planned_units_per_variant=5000, metrics={"orders": MetricRule(alternative="greater")})
    result = analyse(definition, [CONVERSION], _sums([_conversion(5000, 500)], [_conversion(5000, 505)]), _settings())
    assert result.metrics[0].comparisons[0].effect.relative_ci[1] == float("inf")
    assert result.decision == "no_effect"
    assert result.reason == "at the planned sample the one-sided test on orders is not significant."


@pytest.mark.parametrize(("latency_total", "decision", "check"), [
    (100_200.0, "ship", "within_margin"),       # +0.2 % ± 1 %: within a 2 % margin
    (101_500.0, "dont_ship", "undetermined"),    # +1.5 % ± 1 %: may be 2 % worse
    (106_000.0, "dont_ship", "harmed"),          # +6 %: worse beyond the margin
])
def test_guardrails_must_stay_within_their_non_inferiority_margin(latency_total, decision, check) -> None:
    definition = _rule(metrics={"latency": MetricRule(margin=0.02)})
    sums = _sums([_conversion(5000, 500), _count(5000, 100_000.0, 100_000.0**2 / 5000 + 5000 * 25.0)],
                 [_conversion(5000, 650), _count(5000, latency_total, latency_total**2 / 5000 + 5000 * 25.0)])
    result = analyse(definition, [CONVERSION], sums, _settings(), guardrails=[LATENCY])
    assert result.metrics[1].comparisons[0].guardrail == check
    assert result.decision == decision
    if decision == "ship":
        assert result.reason.endswith("and every guardrail is within its margin.")
    elif check == "harmed":
        assert result.reason.startswith("guardrail latency is worse beyond its 2% margin in treatment")
        assert result_document(result).guardrail_harms[0].metric == "latency"
    else:
        assert result.reason.endswith("but at the planned sample guardrail latency is not yet shown within its 2% margin.")


def test_harm_on_the_primary_is_dont_ship() -> None:
    result = analyse(PLANNED, [CONVERSION], _sums([_conversion(5000, 650)], [_conversion(5000, 500)]), _settings())
    assert result.decision == "dont_ship"
    assert result.reason.startswith("treatment is worse than control on orders (-23.1% [")


def test_a_zero_variance_arm_is_flagged_not_shown_as_certain() -> None:
    result = analyse(PLANNED, [CONVERSION], _sums([_conversion(5000, 500)], [_conversion(5000, 0)]),
                     _settings(method="bayesian"))
    (comparison,) = result.metrics[0].comparisons
    assert comparison.effect.degenerate and comparison.verdict == "inconclusive"
    assert comparison.effect.chance_to_win is None and comparison.effect.expected_loss is None
    assert result.decision == "keep_running" and "no variation" in result.reason
    assert result.warnings == ["orders: treatment or control has no variation, so the interval and chance to win "
                               "are not reliable and no verdict is given."]
    assert result_document(result).metrics[0].comparisons[0].degenerate


def test_bonferroni_correction_and_per_metric_alternative_match_statsmodels() -> None:
    definition = _rule(metrics={"orders": MetricRule(alternative="greater")})
    sums = _sums([_conversion(5000, 500), _count(5000, 10000, 30000)],
                 [_conversion(5000, 560), _count(5000, 10150, 30800)])
    result = analyse(definition, [CONVERSION, BOUNCES], sums, _settings(correction="bonferroni"))
    orders, bounces = (m.comparisons[0] for m in result.metrics)
    assert orders.effect.p_value == pytest.approx(proportions_ztest([560, 500], [5000, 5000], alternative="larger")[1],
                                                  rel=1e-9)
    assert orders.effect.relative_ci[1] == float("inf")
    raw = [orders.effect.p_value, bounces.effect.p_value]
    assert [orders.adjusted_p_value, bounces.adjusted_p_value] == pytest.approx(
        list(multipletests(raw, method="bonferroni")[1]))
    assert result.metrics[0].alternative == "greater"


def test_sequential_is_tuned_to_the_planned_total_sample() -> None:
    result = analyse(PLANNED, [CONVERSION], _sums([_conversion(5000, 500)], [_conversion(5000, 600)]),
                     _settings(method="sequential"))
    assert result.plan.tuning_units == 10_000
    assert result_document(result).plan.tuning_units == 10_000


@pytest.mark.parametrize(("rule", "field"), [
    (DecisionRule(metrics={"orders": MetricRule(margin=0.02)}), "decision.metrics.orders.margin"),
    (DecisionRule(metrics={"nope": MetricRule()}), "decision.metrics.nope"),
    (DecisionRule(min_runtime_days=0), "decision.min_runtime_days"),
    (DecisionRule(target_effect=0), "decision.target_effect"),
])
def test_invalid_decision_rules_name_the_field(rule, field) -> None:
    definition = msgspec.structs.replace(DEFINITION, conversion_event="", metrics=["orders"], decision=rule)
    with pytest.raises(DefinitionError) as raised:
        validate(definition)
    assert raised.value.field == field
