"""Every statistic against scipy/statsmodels (or a direct computation) on the same inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_effectsize, proportions_ztest

from experiments.stats import (
    SRM_P_VALUE_THRESHOLD,
    ArmStats,
    CupedArmStats,
    EffectEstimate,
    RatioArmStats,
    asymptotic_confidence_sequence,
    benjamini_hochberg,
    cuped_theta,
    cuped_ttest,
    estimated_days_remaining,
    holm,
    proportion_ztest,
    ratio_ztest,
    required_units_per_arm,
    required_units_per_arm_for_rate,
    srm_test,
    welch_ttest,
)

STATSMODELS_ALTERNATIVE = {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}
ALTERNATIVES = list(STATSMODELS_ALTERNATIVE)


def arm_stats(values: np.ndarray) -> ArmStats:
    return ArmStats(units=len(values), sum=float(values.sum()), sum_squares=float(values @ values))


def z_quantile(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(
    ("control", "treatment"),
    [((1000, 100), (1100, 130)), ((50_000, 2_500), (49_000, 2_300)), ((20, 1), (25, 6)), ((7, 7), (9, 8))],
)
def test_proportion_ztest_equals_statsmodels(control, treatment, alternative):
    (nc, c), (nt, t) = control, treatment
    result = proportion_ztest(
        ArmStats.from_conversions(nc, c), ArmStats.from_conversions(nt, t), alternative=alternative
    )
    statistic, p_value = proportions_ztest(
        count=[t, c], nobs=[nt, nc], alternative=STATSMODELS_ALTERNATIVE[alternative]
    )
    assert result.statistic == pytest.approx(statistic, rel=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_proportion_ztest_wald_interval_equals_statsmodels(alpha):
    result = proportion_ztest(
        ArmStats.from_conversions(4000, 400), ArmStats.from_conversions(4100, 460), alpha=alpha
    )
    lower, upper = confint_proportions_2indep(460, 4100, 400, 4000, method="wald", alpha=alpha)
    assert result.absolute_ci == pytest.approx((lower, upper), rel=1e-9)


def test_relative_interval_is_the_delta_method():
    control, treatment = ArmStats.from_conversions(4000, 400), ArmStats.from_conversions(4100, 460)
    result = proportion_ztest(control, treatment)
    variances = np.array([0.1 * 0.9 / 4000, (460 / 4100) * (1 - 460 / 4100) / 4100])
    gradient = numeric_gradient(lambda m: m[1] / m[0] - 1, np.array([0.1, 460 / 4100]))
    half_width = z_quantile(0.05) * math.sqrt(gradient**2 @ variances)
    assert result.relative_effect == pytest.approx((460 / 4100) / 0.1 - 1, rel=1e-12)
    assert result.relative_ci == pytest.approx(
        (result.relative_effect - half_width, result.relative_effect + half_width), rel=1e-6
    )


def numeric_gradient(function, point: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central finite differences, so the delta method is checked independently of ours."""
    unit = np.eye(len(point)) * step * np.maximum(np.abs(point), 1.0)
    return np.array(
        [(function(point + h) - function(point - h)) / (2 * h[i]) for i, h in enumerate(unit)]
    )


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(("nc", "nt", "sd_c", "sd_t"), [(40, 60, 1.0, 3.0), (500, 480, 2.0, 2.0), (5, 3, 1.0, 0.2)])
def test_welch_ttest_equals_scipy(nc, nt, sd_c, sd_t, alternative):
    rng = np.random.default_rng(nc + nt)
    control_values, treatment_values = rng.normal(10, sd_c, nc), rng.normal(10.5, sd_t, nt)
    result = welch_ttest(arm_stats(control_values), arm_stats(treatment_values), alternative=alternative)
    expected = stats.ttest_ind(treatment_values, control_values, equal_var=False, alternative=alternative)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-6)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-6)
    assert result.absolute_ci == pytest.approx(tuple(expected.confidence_interval(0.95)), rel=1e-6)
    from_stats = stats.ttest_ind_from_stats(
        treatment_values.mean(), treatment_values.std(ddof=1), nt,
        control_values.mean(), control_values.std(ddof=1), nc,
        equal_var=False, alternative=alternative,
    )
    assert result.p_value == pytest.approx(from_stats.pvalue, rel=1e-6)


def simulated_ratio_arm(rng: np.random.Generator, units: int, revenue_per_session: float):
    sessions = rng.poisson(2.0, units) + 1.0
    revenue = rng.gamma(2.0, revenue_per_session / 2.0, units) * sessions + rng.normal(0, 0.5, units)
    return revenue, sessions


def ratio_arm_stats(revenue: np.ndarray, sessions: np.ndarray) -> RatioArmStats:
    return RatioArmStats(arm_stats(revenue), arm_stats(sessions), float(revenue @ sessions))


def test_ratio_variance_equals_direct_delta_method_on_raw_data():
    rng = np.random.default_rng(7)
    revenue, sessions = simulated_ratio_arm(rng, 3000, 1.5)
    means = np.array([revenue.mean(), sessions.mean()])
    covariance_of_means = np.cov(np.vstack([revenue, sessions])) / len(revenue)
    gradient = numeric_gradient(lambda m: m[0] / m[1], means)
    arm = ratio_arm_stats(revenue, sessions)
    assert arm.ratio == pytest.approx(revenue.sum() / sessions.sum(), rel=1e-12)
    assert arm.ratio_variance == pytest.approx(gradient @ covariance_of_means @ gradient, rel=1e-6)


def test_ratio_ztest_interval_and_p_value_from_delta_method_variances():
    rng = np.random.default_rng(8)
    control = ratio_arm_stats(*simulated_ratio_arm(rng, 2000, 1.5))
    treatment = ratio_arm_stats(*simulated_ratio_arm(rng, 2100, 1.6))
    result = ratio_ztest(control, treatment)
    se = math.sqrt(control.ratio_variance + treatment.ratio_variance)
    difference = treatment.ratio - control.ratio
    assert result.absolute_effect == pytest.approx(difference, rel=1e-12)
    assert result.p_value == pytest.approx(2 * stats.norm.sf(abs(difference / se)), rel=1e-9)
    assert result.absolute_ci == pytest.approx(
        (difference - z_quantile(0.05) * se, difference + z_quantile(0.05) * se), rel=1e-9
    )


def simulated_cuped_arms(rng: np.random.Generator, units: int, effect: float, correlation: float):
    """Metric and pre-period covariate with the given correlation; both arms, raw values."""
    arms = []
    for arm_effect in (0.0, effect):
        covariate = rng.normal(5.0, 2.0, units)
        noise = rng.normal(0.0, 2.0 * math.sqrt(1 - correlation**2), units)
        arms.append((covariate, 3.0 + arm_effect + correlation * (covariate - 5.0) + noise))
    return arms


def cuped_arm_stats(covariate: np.ndarray, metric: np.ndarray) -> CupedArmStats:
    return CupedArmStats(arm_stats(metric), arm_stats(covariate), float(metric @ covariate))


def test_cuped_effect_equals_ols_with_treatment_and_centered_covariate():
    rng = np.random.default_rng(11)
    (x_c, y_c), (x_t, y_t) = simulated_cuped_arms(rng, 800, 0.3, 0.7)
    x, y = np.concatenate([x_c, x_t]), np.concatenate([y_c, y_t])
    treated = np.concatenate([np.zeros(len(x_c)), np.ones(len(x_t))])
    design = sm.add_constant(np.column_stack([treated, x - x.mean()]))
    ols = sm.OLS(y, design).fit()
    control, treatment = cuped_arm_stats(x_c, y_c), cuped_arm_stats(x_t, y_t)
    result = cuped_ttest(control, treatment)
    assert result.method.startswith("cuped-")
    assert result.absolute_effect == pytest.approx(ols.params[1], rel=1e-6)
    assert cuped_theta(control, treatment) == pytest.approx(ols.params[2], rel=1e-6)
    assert result.control_mean == pytest.approx(ols.params[0], rel=1e-6)
    assert result.absolute_ci[1] - result.absolute_ci[0] == pytest.approx(
        2 * stats.t.ppf(0.975, ols.df_resid) * ols.bse[1], rel=0.02
    )


def test_cuped_interval_narrower_than_welch_on_correlated_data():
    rng = np.random.default_rng(12)
    (x_c, y_c), (x_t, y_t) = simulated_cuped_arms(rng, 2000, 0.2, 0.8)
    cuped = cuped_ttest(cuped_arm_stats(x_c, y_c), cuped_arm_stats(x_t, y_t))
    welch = welch_ttest(arm_stats(y_c), arm_stats(y_t))
    width_ratio = (cuped.absolute_ci[1] - cuped.absolute_ci[0]) / (welch.absolute_ci[1] - welch.absolute_ci[0])
    assert width_ratio == pytest.approx(math.sqrt(1 - 0.8**2), abs=0.03)


def test_cuped_with_uninformative_covariate_is_welch():
    rng = np.random.default_rng(13)
    metric_c, metric_t = rng.normal(0, 1, 100), rng.normal(0.2, 1, 120)
    constant = CupedArmStats(arm_stats(metric_c), ArmStats(100, 100.0, 100.0), float(metric_c.sum()))
    constant_t = CupedArmStats(arm_stats(metric_t), ArmStats(120, 120.0, 120.0), float(metric_t.sum()))
    cuped = cuped_ttest(constant, constant_t)
    welch = welch_ttest(arm_stats(metric_c), arm_stats(metric_t))
    assert cuped.p_value == pytest.approx(welch.p_value, rel=1e-9)
    assert cuped.absolute_ci == pytest.approx(welch.absolute_ci, rel=1e-9)


def test_confidence_sequence_equals_growthbook_formula():
    control, treatment = ArmStats.from_conversions(3000, 300), ArmStats.from_conversions(3000, 360)
    result = asymptotic_confidence_sequence(control, treatment, tuning_units=5000)
    alpha, n = 0.05, 6000
    rho = math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / 5000)
    se = math.sqrt(control.variance / 3000 + treatment.variance / 3000)
    s2 = se**2 * n
    width = math.sqrt(s2) * math.sqrt(
        2 * (n * rho**2 + 1) * math.log(math.sqrt(n * rho**2 + 1) / alpha) / (n * rho) ** 2
    )
    assert result.absolute_ci == pytest.approx((0.02 - width, 0.02 + width), rel=1e-9)
    assert (result.p_value < alpha) == (result.absolute_ci[0] > 0)


def test_confidence_sequence_p_value_is_the_alpha_whose_boundary_touches_the_estimate():
    result = asymptotic_confidence_sequence(
        ArmStats.from_conversions(3000, 300), ArmStats.from_conversions(3000, 345)
    )
    alpha, n = 0.05, 6000
    precision = n * (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / 5000
    boundary = math.sqrt(
        2 * (precision + 1) / precision * math.log(math.sqrt(precision + 1) / result.p_value)
    )
    assert 0 < result.p_value < 1
    assert boundary == pytest.approx(result.statistic, rel=1e-9)


@pytest.mark.parametrize("weights", [[1, 1], [0.5, 0.3, 0.2], [2, 1, 1]])
def test_srm_equals_scipy_chisquare(weights):
    observed = [5200, 3000, 1900][: len(weights)]
    result = srm_test(observed, weights)
    expected = np.array(weights) / sum(weights) * sum(observed)
    chi2, p_value = stats.chisquare(observed, expected)
    assert result.chi2 == pytest.approx(chi2, rel=1e-9)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)
    assert result.is_mismatch == (p_value < SRM_P_VALUE_THRESHOLD)


def test_srm_threshold_and_empty_experiment():
    assert SRM_P_VALUE_THRESHOLD == 0.001
    assert srm_test([5000, 5000], [1, 1]).is_mismatch is False
    assert srm_test([5000, 5400], [1, 1]).is_mismatch is True
    assert srm_test([0, 0], [1, 1]).p_value == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_multiple_comparisons_equal_statsmodels(seed):
    p_values = np.random.default_rng(seed).uniform(0, 0.2, 12).tolist() + [0.03, 0.03, 1.0]
    assert holm(p_values) == pytest.approx(multipletests(p_values, method="holm")[1], rel=1e-12)
    assert benjamini_hochberg(p_values) == pytest.approx(
        multipletests(p_values, method="fdr_bh")[1], rel=1e-12
    )


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(("mean", "std", "mde", "alpha", "power"), [(10, 4, 0.05, 0.05, 0.8), (1, 3, 0.02, 0.01, 0.9), (2, 1, 0.5, 0.1, 0.5)])
def test_required_units_equal_statsmodels(mean, std, mde, alpha, power, alternative):
    expected = zt_ind_solve_power(
        effect_size=mde * mean / std, alpha=alpha, power=power,
        alternative=STATSMODELS_ALTERNATIVE[alternative] if alternative != "less" else "larger",
    )
    result = required_units_per_arm(mean, std, mde, alpha=alpha, power=power, alternative=alternative)
    assert result == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize(("rate", "mde", "power", "planned"), [(0.10, 0.10, 0.8, 14_745), (0.05, 0.20, 0.9, 10_901),
                                                             (0.30, 0.05, 0.8, None)])
def test_required_units_for_rate_equal_statsmodels_cohens_h(rate, mde, power, planned, alternative):
    """statsmodels ``NormalIndPower`` on Cohen's h (``proportion_effectsize``): both arms' rates count."""
    target = rate * (1 - mde if alternative == "less" else 1 + mde)
    expected = NormalIndPower().solve_power(
        effect_size=abs(proportion_effectsize(target, rate)), alpha=0.05, power=power,
        alternative=STATSMODELS_ALTERNATIVE[alternative] if alternative != "less" else "larger",
    )
    result = required_units_per_arm_for_rate(rate, mde, power=power, alternative=alternative)
    assert result == pytest.approx(expected, rel=1e-6)
    if planned is not None and alternative == "two-sided":
        assert math.ceil(result) == planned  # the figures (14,128 and 9,983 before)


def test_estimated_days_remaining_follows_the_slowest_arm():
    assert estimated_days_remaining(5000, [1000, 900], days_elapsed=7) == pytest.approx(4100 * 7 / 900)
    assert estimated_days_remaining(5000, [6000, 5000], days_elapsed=7) == 0.0
    assert estimated_days_remaining(5000, [6000, 0], days_elapsed=7) == math.inf


def assert_uninformative(result: EffectEstimate) -> None:
    assert (result.statistic, result.p_value) == (0.0, 1.0)
    assert result.absolute_ci == (-math.inf, math.inf)


@pytest.mark.parametrize("test", [proportion_ztest, welch_ttest, asymptotic_confidence_sequence])
def test_empty_arms_give_p_one_and_infinite_interval(test):
    assert_uninformative(test(ArmStats(0, 0, 0), ArmStats(0, 0, 0)))
    result = test(ArmStats(0, 0, 0), ArmStats.from_conversions(10, 3))
    assert_uninformative(result)
    assert math.isnan(result.relative_effect)


@pytest.mark.parametrize("test", [proportion_ztest, welch_ttest, asymptotic_confidence_sequence])
@pytest.mark.parametrize("converters", [0, 50])
def test_no_variation_in_either_arm_collapses_interval(test, converters):
    control = ArmStats.from_conversions(50, converters)
    result = test(control, ArmStats.from_conversions(60, converters * 60 // 50))
    assert (result.statistic, result.p_value, result.absolute_ci) == (0.0, 1.0, (0.0, 0.0))
    if converters:
        assert result.relative_ci == (0.0, 0.0)
    else:
        assert math.isnan(result.relative_effect) and math.isnan(result.relative_ci[0])


def test_welch_single_unit_arm_is_uninformative_and_constant_arms_are_certain():
    assert_uninformative(welch_ttest(ArmStats(1, 3.0, 9.0), ArmStats(10, 30.0, 100.0)))
    certain = welch_ttest(ArmStats(10, 30.0, 90.0), ArmStats(10, 40.0, 160.0))
    assert (certain.statistic, certain.p_value, certain.absolute_ci) == (math.inf, 0.0, (1.0, 1.0))


def test_ratio_with_zero_denominator_is_uninformative():
    empty = RatioArmStats(ArmStats(5, 0.0, 0.0), ArmStats(5, 0.0, 0.0), 0.0)
    busy = RatioArmStats(ArmStats(5, 10.0, 30.0), ArmStats(5, 5.0, 7.0), 12.0)
    assert_uninformative(ratio_ztest(empty, busy))


@pytest.mark.parametrize(
    "bad_call",
    [
        lambda: proportion_ztest(ArmStats(1, 0, 0), ArmStats(1, 0, 0), alpha=0),
        lambda: welch_ttest(ArmStats(1, 0, 0), ArmStats(1, 0, 0), alternative="larger"),
        lambda: ArmStats(-1, 0, 0),
        lambda: ArmStats.from_conversions(3, 4),
        lambda: RatioArmStats(ArmStats(3, 0, 0), ArmStats(4, 0, 0), 0),
        lambda: srm_test([1, 2], [1, 0]),
        lambda: holm([0.2, 1.5]),
        lambda: required_units_per_arm(10, 4, 0.0),
    ],
)
def test_invalid_inputs_raise_value_error(bad_call):
    with pytest.raises(ValueError):
        bad_call()
