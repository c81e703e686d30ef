"""Result assembly from sufficient statistics: verdicts, SRM suppression, corrections, methods."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from statsmodels.stats.multitest import multipletests

from experiments.analysis import analyse
from experiments.analysis_settings import AnalysisSettings
from experiments.comparison import compare
from experiments.definitions import DecisionRule, ExperimentDefinition, Variant
from experiments.metrics import MetricDefinition
from experiments.queries import DailySums, ExperimentSums, MetricSums
from experiments.report import render_table, result_document
from experiments.stats import ArmStats, CupedArmStats, cuped_ttest

DAY = dt.date(2026, 3, 1)
DEFINITION = ExperimentDefinition(key="exp", variants=[Variant("control", 0.5), Variant("treatment", 0.5)])
PLANNED = msgspec.structs.replace(
    DEFINITION, decision=DecisionRule(planned_units_per_variant=5000, min_runtime_days=1, whole_weeks=False))
"""DEFINITION with its planned sample (5,000 per variant) and one day of minimum runtime."""
CONVERSION = MetricDefinition(key="orders", kind="conversion", event="Order")
BOUNCES = MetricDefinition(key="bounces", kind="count", event="Bounce", higher_is_better=False)


def _conversion(units: int, converters: int) -> MetricSums:
    return MetricSums(units, converters, converters)


def _count(units: int, total: float, squares: float) -> MetricSums:
    return MetricSums(units, total, squares)


def _sums(control: list[MetricSums], treatment: list[MetricSums], days: int = 1) -> ExperimentSums:
    """Split each arm evenly over `days` days (sums are additive)."""
    rows = []
    for variant, metrics in (("control", control), ("treatment", treatment)):
        for day in range(days):
            share = tuple(MetricSums(*(getattr(m, f) / days if f != "units" else m.units // days
                                       for f in MetricSums.__dataclass_fields__)) for m in metrics)
            rows.append(DailySums(variant, DAY + dt.timedelta(days=day), share))
    return ExperimentSums(tuple(rows), multiple_exposures=3)


def _settings(**changes: object) -> AnalysisSettings:
    return msgspec.structs.replace(AnalysisSettings(), **changes)


def test_a_clear_win_is_declared_with_holm_across_metrics() -> None:
    sums = _sums([_conversion(5000, 500), _count(5000, 10000, 30000)],
                 [_conversion(5000, 650), _count(5000, 10100, 30500)])
    result = analyse(PLANNED, [CONVERSION, BOUNCES], sums, _settings())
    raw = [m.comparisons[0].effect.p_value for m in result.metrics]
    assert [m.comparisons[0].adjusted_p_value for m in result.metrics] == pytest.approx(
        list(multipletests(raw, method="holm")[1]))
    assert result.metrics[0].comparisons[0].verdict == "win"
    assert result.decision == "ship"
    assert result.summary.startswith("Ship: treatment beats control on orders (+30.0% [")
    assert result.summary.endswith(", p < 0.001).")
    assert result.multiple_exposures == 3 and result.units == {"control": 5000, "treatment": 5000}


def test_more_of_a_lower_is_better_metric_is_a_loss_and_flagged_in_the_verdict() -> None:
    sums = _sums([_conversion(5000, 500), _count(5000, 10000, 30000)],
                 [_conversion(5000, 650), _count(5000, 12000, 40000)])
    result = analyse(PLANNED, [CONVERSION, BOUNCES], sums, _settings())
    assert result.metrics[1].comparisons[0].verdict == "loss"
    assert result.summary.endswith(", though worse on bounces.")


def test_sample_ratio_mismatch_suppresses_every_verdict() -> None:
    sums = _sums([_conversion(5000, 500)], [_conversion(4000, 800)])
    result = analyse(PLANNED, [CONVERSION], sums, _settings())
    assert result.srm.is_mismatch and result.decision == "blocked"
    assert [c.verdict for m in result.metrics for c in m.comparisons] == ["suppressed"]
    assert result.summary.startswith("No verdict (sample ratio mismatch): sample ratio mismatch (p = ")
    assert "beats" not in result.summary
    table = render_table(result_document(result))
    assert "Decision: No verdict (sample ratio mismatch): sample ratio mismatch" in table and "WIN" not in table
    assert table.count("sample ratio mismatch (p = ") == 1  # said once


def test_bayesian_reports_chance_to_win_and_no_p_values() -> None:
    sums = _sums([_conversion(5000, 500)], [_conversion(5000, 600)])
    (metric,) = analyse(DEFINITION, [CONVERSION], sums, _settings(method="bayesian")).metrics
    (comparison,) = metric.comparisons
    assert comparison.effect.p_value is None and comparison.adjusted_p_value is None
    assert comparison.effect.chance_to_win > 0.99 and comparison.verdict == "win"
    assert comparison.effect.relative_effect == pytest.approx(0.2, rel=1e-9)


def test_sequential_is_more_conservative_than_fixed() -> None:
    control, treatment = _conversion(2000, 200), _conversion(2000, 250)
    fixed = compare("conversion", control, treatment, method="fixed", alpha=0.05, cuped=False)
    sequential = compare("conversion", control, treatment, method="sequential", alpha=0.05, cuped=False)
    assert sequential.method == "asymptotic-confidence-sequence"
    assert sequential.p_value > fixed.p_value
    assert sequential.absolute_ci[1] - sequential.absolute_ci[0] > fixed.absolute_ci[1] - fixed.absolute_ci[0]


def test_cuped_adjusted_sums_give_other_methods_the_cuped_means_and_variances() -> None:
    control = MetricSums(400, 900.0, 4000.0, 850.0, 3600.0, 3500.0)
    treatment = MetricSums(420, 1050.0, 4900.0, 880.0, 3700.0, 3900.0)
    arms = [CupedArmStats(ArmStats(s.units, s.value, s.value_squares), ArmStats(s.units, s.covariate,
                          s.covariate_squares), s.value_covariate) for s in (control, treatment)]
    reference = cuped_ttest(*arms)
    sequential = compare("mean", control, treatment, method="sequential", alpha=0.05, cuped=True)
    fixed = compare("mean", control, treatment, method="fixed", alpha=0.05, cuped=True)
    assert fixed.method == "cuped-welch-ttest" and fixed.p_value == reference.p_value
    assert (sequential.control_mean, sequential.treatment_mean) == pytest.approx(
        (reference.control_mean, reference.treatment_mean), rel=1e-12)
    half_width = (reference.absolute_ci[1] - reference.absolute_ci[0]) / 2
    z_width = half_width / 1.96  # ≈ the standard error (df is large)
    assert sequential.cuped and (sequential.absolute_ci[1] - sequential.absolute_ci[0]) / 2 > z_width


def test_timeline_accumulates_by_day_and_ends_at_the_overall_lift() -> None:
    sums = _sums([_conversion(3000, 300)], [_conversion(3000, 390)], days=3)
    result = analyse(DEFINITION, [CONVERSION], sums, _settings())
    assert result.timeline.exposures == {"control": [1000] * 3, "treatment": [1000] * 3}
    points = result.timeline.cumulative_lift["orders"]["treatment"]
    assert [p.day for p in points] == [DAY + dt.timedelta(days=n) for n in range(3)]
    assert points[-1].relative_effect == pytest.approx(result.metrics[0].comparisons[0].effect.relative_effect)
    size = result.metrics[0].sample_size
    assert size.required_units_per_variant > 3000 and 0 < size.progress < 1 and size.days_remaining > 0


def test_a_harmed_guardrail_vetoes_shipping_without_joining_the_correction() -> None:
    sums = _sums([_conversion(5000, 500), _count(5000, 10000, 30000)],
                 [_conversion(5000, 650), _count(5000, 10400, 32000)])
    result = analyse(PLANNED, [CONVERSION], sums, _settings(), guardrails=[BOUNCES])
    primary, guardrail = result.metrics
    assert [primary.role, guardrail.role] == ["primary", "guardrail"]
    assert guardrail.comparisons[0].effect.p_value < 0.05
    # Holm over the one decision metric changes nothing; the guardrail stays unadjusted.
    assert primary.comparisons[0].adjusted_p_value == primary.comparisons[0].effect.p_value
    assert guardrail.comparisons[0].adjusted_p_value == guardrail.comparisons[0].effect.p_value
    assert result.decision == "dont_ship"
    assert result.summary.startswith("Don't ship: guardrail bounces is significantly worse in treatment (+4.0% [")
    document = result_document(result)
    served = msgspec.to_builtins(document)  # the JSON the API serves
    assert [m["role"] for m in served["metrics"]] == ["primary", "guardrail"]
    assert [m["primary"] for m in served["metrics"]] == [True, False]
    assert served["guardrail_harms"] == [{"metric": "bounces", "name": "bounces", "variant": "treatment"}]
    table = render_table(document)
    assert table.count("guardrail bounces is significantly worse in treatment (+4.0% [") == 1
    assert "Guardrail: bounces (count, lower is better)" in table


def test_guardrails_do_not_decide_the_winner() -> None:
    sums = _sums([_conversion(5000, 500), _count(5000, 10000, 30000)],
                 [_conversion(5000, 505), _count(5000, 9000, 25000)])
    result = analyse(PLANNED, [CONVERSION], sums, _settings(), guardrails=[BOUNCES])
    assert result.metrics[1].comparisons[0].verdict == "win"
    assert result.decision == "keep_running"
    assert result.summary.startswith("Keep running: no significant difference on orders at the planned sample")
    assert result.guardrail_harms == []
