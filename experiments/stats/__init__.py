"""Pure statistics over per-arm sufficient statistics: no I/O, numpy/scipy only.

Each function takes the per-arm sums (``ArmStats`` and friends) the queries produce and
returns a small frozen result, named after its method (gbstats / statsmodels idioms).
"""

from .bayesian import BayesianEstimate, EffectScale, GaussianPrior, bayesian_effect_test
from .confidence_sequence import DEFAULT_TUNING_UNITS, asymptotic_confidence_sequence
from .cuped import CupedDiagnostics, cuped_diagnostics, cuped_theta, cuped_ttest
from .estimate import Alternative, EffectEstimate, EffectSummary
from .multiple_comparisons import benjamini_hochberg, bonferroni, holm
from .power import (
    estimated_days_remaining,
    required_units_per_arm,
    required_units_per_arm_for_rate,
)
from .proportion_ztest import proportion_ztest
from .ratio_ztest import ratio_ztest
from .srm import SRM_P_VALUE_THRESHOLD, SrmResult, srm_test
from .sufficient_stats import ArmStats, CupedArmStats, RatioArmStats
from .welch_ttest import welch_ttest

__all__ = [
    "DEFAULT_TUNING_UNITS",
    "SRM_P_VALUE_THRESHOLD",
    "Alternative",
    "ArmStats",
    "BayesianEstimate",
    "CupedArmStats",
    "CupedDiagnostics",
    "EffectEstimate",
    "EffectSummary",
    "EffectScale",
    "GaussianPrior",
    "RatioArmStats",
    "SrmResult",
    "asymptotic_confidence_sequence",
    "bayesian_effect_test",
    "benjamini_hochberg",
    "bonferroni",
    "cuped_diagnostics",
    "cuped_theta",
    "cuped_ttest",
    "estimated_days_remaining",
    "holm",
    "proportion_ztest",
    "ratio_ztest",
    "required_units_per_arm",
    "required_units_per_arm_for_rate",
    "srm_test",
    "welch_ttest",
]
