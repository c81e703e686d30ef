"""From per-variant counts to an experiment result: each variant against the control."""

from __future__ import annotations

from dataclasses import dataclass

from experiments.definitions import ExperimentDefinition
from experiments.queries import ConversionCounts
from experiments.stats import ArmStats, EffectEstimate, proportion_ztest

__all__ = ["VariantSummary", "VariantComparison", "ConversionResult", "analyse_conversion"]


@dataclass(frozen=True)
class VariantSummary:
    key: str
    units: int
    conversions: int

    @property
    def rate(self) -> float:
        return self.conversions / self.units if self.units else 0.0


@dataclass(frozen=True)
class VariantComparison:
    """A treatment variant against the control on one metric."""

    variant: str
    control: str
    estimate: EffectEstimate

    def significant(self) -> bool:
        return self.estimate.p_value < self.estimate.alpha


@dataclass(frozen=True)
class ConversionResult:
    experiment: str
    metric: str
    alpha: float
    variants: list[VariantSummary]
    comparisons: list[VariantComparison]
    multiple_exposures: int


def analyse_conversion(
    definition: ExperimentDefinition, counts: ConversionCounts, alpha: float = 0.05
) -> ConversionResult:
    """Two-proportion z-test of every treatment variant against the control."""
    summaries = [
        VariantSummary(variant.key, counts.units[variant.key], counts.converters[variant.key])
        for variant in definition.variants
    ]
    control, *treatments = summaries
    comparisons = [
        VariantComparison(
            treatment.key,
            control.key,
            proportion_ztest(_arm(control), _arm(treatment), alpha=alpha),
        )
        for treatment in treatments
    ]
    return ConversionResult(
        experiment=definition.key,
        metric=f"conversion: {definition.conversion_event}",
        alpha=alpha,
        variants=summaries,
        comparisons=comparisons,
        multiple_exposures=counts.multiple_exposures,
    )


def _arm(summary: VariantSummary) -> ArmStats:
    # For a 0/1 metric the sum of squares equals the sum.
    return ArmStats(units=summary.units, sum=summary.conversions, sum_squares=summary.conversions)
