"""One variance convention, degenerate arms, audit fields and corrections, against references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from experiments.stats import (
    ArmStats,
    CupedArmStats,
    asymptotic_confidence_sequence,
    bayesian_effect_test,
    bonferroni,
    cuped_diagnostics,
    cuped_theta,
    cuped_ttest,
    proportion_ztest,
    welch_ttest,
)


@pytest.mark.parametrize(("control", "treatment"), [((20, 4), (20, 9)), ((4000, 400), (4100, 460))])
def test_flat_prior_credible_interval_equals_the_z_interval_for_conversions(control, treatment):
    """Bernoulli variance is p(1 − p) in every mode (gbstats' convention), so at n = 20 the
    Bayesian interval no longer differs from the z one by √(n/(n − 1)) = 2.6 %."""
    c, t = ArmStats.from_conversions(*control), ArmStats.from_conversions(*treatment)
    bayesian = bayesian_effect_test(c, t, effect_scale="absolute")
    frequentist = proportion_ztest(c, t)
    wald = confint_proportions_2indep(treatment[1], treatment[0], control[1], control[0], method="wald")
    assert bayesian.credible_interval == pytest.approx(frequentist.absolute_ci, rel=1e-12)
    assert bayesian.credible_interval == pytest.approx(tuple(wald), rel=1e-9)
    assert bayesian.posterior_sd == pytest.approx(frequentist.standard_error, rel=1e-12)
    assert bayesian_effect_test(c, t).posterior_sd == pytest.approx(frequentist.relative_standard_error, rel=1e-12)


def test_sequential_uses_the_same_bernoulli_standard_error_as_the_z_test():
    c, t = ArmStats.from_conversions(20, 4), ArmStats.from_conversions(20, 9)
    sequential, fixed = asymptotic_confidence_sequence(c, t), proportion_ztest(c, t)
    assert sequential.standard_error == pytest.approx(math.sqrt(0.2 * 0.8 / 20 + 0.45 * 0.55 / 20), rel=1e-12)
    assert sequential.standard_error == pytest.approx(fixed.standard_error, rel=1e-12)


def test_standard_error_statistic_and_df_equal_scipy_welch():
    rng = np.random.default_rng(7)
    control_values, treatment_values = rng.normal(10, 1, 40), rng.normal(10.5, 3, 60)

    def arm(values: np.ndarray) -> ArmStats:
        return ArmStats(len(values), float(values.sum()), float(values @ values))

    result = welch_ttest(arm(control_values), arm(treatment_values))
    expected = stats.ttest_ind(treatment_values, control_values, equal_var=False)
    assert result.df == pytest.approx(expected.df, rel=1e-9)
    assert result.statistic == pytest.approx(expected.statistic, rel=1e-9)
    assert result.standard_error == pytest.approx(result.absolute_effect / expected.statistic, rel=1e-9)
    z = proportion_ztest(ArmStats.from_conversions(1000, 100), ArmStats.from_conversions(1100, 130))
    assert z.df == math.inf
    assert z.statistic == pytest.approx(proportions_ztest([130, 100], [1100, 1000])[0], rel=1e-9)


@pytest.mark.parametrize("converters", [0, 1000])
def test_an_arm_without_variation_is_flagged_degenerate_in_every_mode(converters):
    """0 of 1,000 converted: the relative interval would read [−100 %, −100 %] and the chance to
    win exactly 0; the flag says these are artefacts of a zero variance, not facts."""
    control, empty = ArmStats.from_conversions(1000, 50), ArmStats.from_conversions(1000, converters)
    for result in (proportion_ztest(control, empty), asymptotic_confidence_sequence(control, empty)):
        assert result.degenerate
    assert bayesian_effect_test(control, empty).degenerate
    assert not proportion_ztest(control, ArmStats.from_conversions(1000, 60)).degenerate
    assert not bayesian_effect_test(control, ArmStats.from_conversions(1000, 60)).degenerate


@pytest.mark.parametrize("seed", range(3))
def test_bonferroni_equals_statsmodels(seed):
    p_values = np.random.default_rng(seed).uniform(0, 0.3, 9).tolist() + [1.0]
    assert bonferroni(p_values) == pytest.approx(multipletests(p_values, method="bonferroni")[1], rel=1e-12)


def test_cuped_diagnostics_equal_direct_computation():
    """θ is the within-arm slope (OLS ANCOVA), the correlation the within-arm one, and the
    variance reduction 1 − (adjusted / unadjusted standard error)², about ρ² here."""
    rng = np.random.default_rng(14)
    arms = []
    for shift in (0.0, 0.3):
        covariate = rng.normal(5, 2, 3000)
        metric = 1 + shift + 0.6 * covariate + rng.normal(0, 1.5, 3000)
        arms.append((covariate, metric))

    def cuped_arm(covariate: np.ndarray, metric: np.ndarray) -> CupedArmStats:
        return CupedArmStats(ArmStats(len(metric), float(metric.sum()), float(metric @ metric)),
                             ArmStats(len(covariate), float(covariate.sum()), float(covariate @ covariate)),
                             float(metric @ covariate))

    control, treatment = (cuped_arm(*arm) for arm in arms)
    diagnostics = cuped_diagnostics(control, treatment)
    centred = [(x - x.mean(), y - y.mean()) for x, y in arms]
    xy = sum(float(x @ y) for x, y in centred)
    xx = sum(float(x @ x) for x, _ in centred)
    yy = sum(float(y @ y) for _, y in centred)
    assert diagnostics.theta == pytest.approx(xy / xx, rel=1e-9) == cuped_theta(control, treatment)
    assert diagnostics.correlation == pytest.approx(xy / math.sqrt(xx * yy), rel=1e-9)
    unadjusted = welch_ttest(control.metric, treatment.metric).standard_error
    adjusted = cuped_ttest(control, treatment).standard_error
    assert diagnostics.variance_reduction == pytest.approx(1 - (adjusted / unadjusted) ** 2, rel=1e-9)
    assert diagnostics.variance_reduction == pytest.approx(diagnostics.correlation**2, abs=0.02)
