"""Bayesian A/B test: Gaussian posterior on the effect (gbstats ``EffectBayesianABTest``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

from scipy import special

from ._inference import arm_mean, check_alpha, difference_se, interval, is_degenerate, relative_lift
from .sufficient_stats import ArmStats, RatioArmStats

EffectScale = Literal["relative", "absolute"]
"""Relative: treatment/control − 1 (0.05 = +5 %). Absolute: treatment − control."""


@dataclass(frozen=True)
class GaussianPrior:
    """Normal prior on the effect, on the scale tested; ``variance=inf`` is flat (improper)."""

    mean: float = 0.0
    variance: float = math.inf

    def __post_init__(self) -> None:
        if not self.variance > 0:
            raise ValueError(f"prior variance must be > 0, got {self.variance}")


@dataclass(frozen=True)
class BayesianEstimate:
    """Posterior of the effect on ``effect_scale``; losses are in the same units.

    ``expected_loss_treatment`` is E[max(0, −effect)], what shipping treatment costs on
    average if it is worse; ``expected_loss_control`` is E[max(0, effect)]. All posterior
    fields are NaN when the relative scale is asked for and control_mean is 0.
    ``degenerate``: an arm has zero variance, so the posterior treats it as exact (a chance
    to win of exactly 0 or 1 is then an artefact, not a fact).
    """

    effect_scale: EffectScale
    control_mean: float
    treatment_mean: float
    posterior_mean: float
    posterior_sd: float
    credible_interval: tuple[float, float]
    chance_to_win: float
    expected_loss_control: float
    expected_loss_treatment: float
    alpha: float
    degenerate: bool


def _posterior(estimate: float, standard_error: float, prior: GaussianPrior) -> tuple[float, float]:
    """Conjugate normal update of the prior with the likelihood N(estimate, se²)."""
    if math.isinf(prior.variance) or standard_error == 0:
        return (estimate, standard_error)
    if math.isinf(standard_error):
        return (prior.mean, math.sqrt(prior.variance))
    data_precision = 1 / (standard_error * standard_error)
    precision = data_precision + 1 / prior.variance
    mean = (estimate * data_precision + prior.mean / prior.variance) / precision
    return (mean, math.sqrt(1 / precision))


def _positive_part_mean(mean: float, sd: float) -> float:
    """E[max(0, X)] for X ~ N(mean, sd²)."""
    if sd == 0:
        return max(mean, 0.0)
    if math.isinf(sd):
        return math.inf
    z = mean / sd
    return mean * float(special.ndtr(z)) + sd * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _chance_to_win(mean: float, sd: float) -> float:
    """P(effect > 0); ties at a point mass count half."""
    if sd == 0:
        return 0.5 + 0.5 * ((mean > 0) - (mean < 0))
    return float(special.ndtr(mean / sd))


def bayesian_effect_test(
    control: ArmStats | RatioArmStats,
    treatment: ArmStats | RatioArmStats,
    *,
    prior: GaussianPrior = GaussianPrior(),
    effect_scale: EffectScale = "relative",
    alpha: float = 0.05,
) -> BayesianEstimate:
    """Chance to beat control, expected losses and a 1 − alpha credible interval.

    The likelihood is the normal approximation of the effect estimate (delta method on
    the relative scale), as in GrowthBook. Arm variances follow the package's one
    convention (p(1 − p) for Bernoulli arms), so with the flat prior the credible interval
    equals the frequentist z interval: the unpooled Wald interval for conversions.
    """
    check_alpha(alpha)
    if effect_scale not in get_args(EffectScale):
        raise ValueError(f"effect_scale must be one of {get_args(EffectScale)}, got {effect_scale!r}")
    control_mean, treatment_mean = arm_mean(control), arm_mean(treatment)
    if effect_scale == "relative":
        estimate, standard_error = relative_lift(control_mean, treatment_mean)
    else:
        estimate = treatment_mean.mean - control_mean.mean
        standard_error = difference_se(control_mean, treatment_mean)
    mean, sd = _posterior(estimate, standard_error, prior)
    return BayesianEstimate(
        effect_scale=effect_scale,
        control_mean=control_mean.mean,
        treatment_mean=treatment_mean.mean,
        posterior_mean=mean,
        posterior_sd=sd,
        credible_interval=interval(mean, sd, float(special.ndtri(1 - alpha / 2)), "two-sided"),
        chance_to_win=_chance_to_win(mean, sd),
        expected_loss_control=_positive_part_mean(mean, sd),
        expected_loss_treatment=_positive_part_mean(-mean, sd),
        alpha=alpha,
        degenerate=is_degenerate(control_mean, treatment_mean),
    )

