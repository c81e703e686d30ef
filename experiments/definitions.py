"""Experiment definitions: what is tested, on whom, and what counts as a conversion.

Definitions travel as JSON (admin API, SDK fetch, `experiments apply` files); decoding
checks types and `validate` checks meaning, each error naming the offending field.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Literal

import msgspec

from collector.documents import check_key, decode_document
from experiments.analysis_settings import AnalysisSettings, settings_error
from experiments.assignment import assignment_error
from experiments.layers import Layer
from experiments.metrics import IMPLICIT_CONVERSION_KEY
from experiments.stats import Alternative
from sdk.assignment import weights_sum_to_one

__all__ = ["Variant", "MetricRule", "DecisionRule", "ExperimentDefinition", "ExperimentStatus", "DefinitionError",
           "parse_definition", "stored_definition", "validate"]

ExperimentStatus = Literal["draft", "running", "stopped"]
_UNIT_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class DefinitionError(ValueError):
    """An invalid definition; `field` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class Variant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One arm: its key and its share of covered traffic (the weights of an experiment sum to 1)."""

    key: str
    weight: float
    payload: Any = None
    """Any JSON value handed to the app with the variant (copy, colours, a config blob)."""


class MetricRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """How one metric of the experiment is tested and judged.

    `alternative` is the hypothesis about treatment − control (scipy's names: "greater" tests
    for an increase only). `margin` is a guardrail's relative non-inferiority margin (0.02:
    the treatment may be at most 2 % worse, in the metric's bad direction); a guardrail
    without one only watches for significant harm.
    """

    alternative: Alternative = "two-sided"
    margin: float | None = None


class DecisionRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What turns results into ship / don't ship / keep running / no detectable effect.

    The primary metric must beat control; `target_effect` (relative, default the
    experiment's `mde`) is the effect worth shipping: at the planned sample an interval that
    excludes it means no detectable effect. Guardrails must stay within their margins
    (`metrics`). No verdict before `min_runtime_days` (rounded up to whole weeks when
    `whole_weeks`, so every weekday counts equally), and a fixed-horizon test gives none
    before `planned_units_per_variant` (default: the primary metric's power calculation
    for `mde`), which also tunes the sequential method.
    """

    target_effect: float | None = None
    min_runtime_days: int = 7
    whole_weeks: bool = True
    planned_units_per_variant: int | None = None
    metrics: dict[str, MetricRule] = {}

    @property
    def runtime_days(self) -> int:
        """The minimum runtime in days, rounded up to whole weeks when asked."""
        return -(-self.min_runtime_days // 7) * 7 if self.whole_weeks else self.min_runtime_days

    def rule(self, metric_key: str) -> MetricRule:
        """The metric's rule (the defaults when the experiment names none)."""
        return self.metrics.get(metric_key, _DEFAULT_RULE)


_DEFAULT_RULE = MetricRule()


class ExperimentDefinition(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One experiment. The first variant is the control every other is compared with.

    `conversion_event` is the implicit primary conversion metric; `metrics` lists metric
    keys after it (the first is primary when there is no conversion event). `mde` is the
    relative minimum detectable effect the sample size is planned for.
    """

    key: str
    variants: list[Variant]
    conversion_event: str = ""
    name: str = ""
    salt: str = ""
    coverage: float = 1.0
    conversion_window_hours: float = 168.0
    metrics: list[str] = []
    analysis: AnalysisSettings = AnalysisSettings()
    mde: float = 0.05
    decision: DecisionRule = DecisionRule()
    # Assignment and lifecycle (see sdk.experiments for the evaluation order).
    hypothesis: str = ""
    owner: str = ""
    """Who answers for the experiment (a name or an email), shown with its results."""
    unit: str = "user_id"
    """The id assigned: "user_id", "anonymous_id" or a group type such as "company"."""
    bucket_by: str = ""
    """"anonymous_id": hash the anonymous (device) id the SDK is given, so a visitor's variant
    does not change at login, while the unit analysed stays the person ("" hashes the unit id)."""
    status: ExperimentStatus | None = None
    """None in a request keeps the stored status (draft for a new experiment)."""
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    phase: int = 1
    phase_started_at: datetime | None = None
    """Set by the server (requests cannot change them): a new phase means a new salt."""
    targeting: dict[str, Any] | None = None
    """A condition in the language of `sdk.targeting`; None targets everyone."""
    layer: Layer | None = None
    overrides: dict[str, str] = {}
    """Unit id → forced variant key (QA); forced units are not exposures."""
    guardrail_metrics: list[str] = []
    """Metric keys watched for harm, not for the decision: a significant harm says do not ship."""

    @property
    def assignment_salt(self) -> str:
        """The salt fed to the assignment hash: the experiment key unless set."""
        return self.salt or self.key

    @property
    def control(self) -> Variant:
        """The first variant: the one every other is compared with."""
        return self.variants[0]


def parse_definition(document: bytes | str) -> ExperimentDefinition:
    """Decode and validate a JSON definition; raises DefinitionError."""
    definition = stored_definition(document)
    validate(definition)
    return definition


def stored_definition(document: bytes | str) -> ExperimentDefinition:
    """Decode a definition as stored, without today's rules: one saved before a rule existed
    still reads (and SDK snapshots leave out what the SDK cannot compile); DefinitionError
    only when it is not a definition at all."""
    return decode_document(document, ExperimentDefinition, DefinitionError, "definition")


def validate(definition: ExperimentDefinition) -> None:
    """Raise DefinitionError unless the definition can run and be analysed."""
    check_key(definition.key, "key", DefinitionError)
    if len(definition.variants) < 2:
        raise DefinitionError("variants", "an experiment needs at least two variants")
    keys = [variant.key for variant in definition.variants]
    if len(set(keys)) != len(keys):
        raise DefinitionError("variants", f"variant keys must be unique, got {keys}")
    for index, variant in enumerate(definition.variants):
        check_key(variant.key, f"variants[{index}].key", DefinitionError)
        if not (0.0 <= variant.weight <= 1.0) or math.isnan(variant.weight):
            raise DefinitionError(f"variants[{index}].weight", "must be between 0 and 1")
    weights = [variant.weight for variant in definition.variants]
    if not weights_sum_to_one(weights):
        raise DefinitionError("variants", f"weights must sum to 1, they sum to {math.fsum(weights):g}")
    if not (0.0 <= definition.coverage <= 1.0):
        raise DefinitionError("coverage", "must be between 0 and 1")
    if not definition.conversion_event and not definition.metrics:
        raise DefinitionError("conversion_event", "name the event that counts as a conversion, or list metrics")
    metric_keys = [IMPLICIT_CONVERSION_KEY] * bool(definition.conversion_event) + definition.metrics
    if len(set(metric_keys)) != len(metric_keys):
        raise DefinitionError("metrics", f"metric keys must be unique (conversion_event is {IMPLICIT_CONVERSION_KEY!r})")
    if len(set(definition.guardrail_metrics)) != len(definition.guardrail_metrics):
        raise DefinitionError("guardrail_metrics", "metric keys must be unique")
    deciding = sorted(set(metric_keys) & set(definition.guardrail_metrics))
    if deciding:
        raise DefinitionError("guardrail_metrics", f"{deciding} already decide the experiment: a metric has one role")
    if not 0 < definition.mde < 10:
        raise DefinitionError("mde", "a relative effect such as 0.05 for 5%")
    invalid = settings_error(definition.analysis)
    if invalid is not None:
        raise DefinitionError(*invalid)
    _validate_decision(definition.decision, metric_keys, definition.guardrail_metrics)
    if not (0.0 < definition.conversion_window_hours <= 24 * 366):
        raise DefinitionError("conversion_window_hours", "must be more than 0 and at most a year")
    _validate_assignment(definition)


def _validate_decision(rule: DecisionRule, metric_keys: list[str], guardrails: list[str]) -> None:
    if rule.target_effect is not None and not 0 < rule.target_effect < 10:
        raise DefinitionError("decision.target_effect", "a relative effect such as 0.05 for 5%")
    if not 1 <= rule.min_runtime_days <= 366:
        raise DefinitionError("decision.min_runtime_days", "between 1 and 366 days")
    if rule.planned_units_per_variant is not None and rule.planned_units_per_variant < 1:
        raise DefinitionError("decision.planned_units_per_variant", "at least 1 unit per variant")
    for key, metric in rule.metrics.items():
        if key not in metric_keys and key not in guardrails:
            raise DefinitionError(f"decision.metrics.{key}", "not a metric or guardrail of this experiment")
        if metric.margin is not None and key not in guardrails:
            raise DefinitionError(f"decision.metrics.{key}.margin", "only guardrails have a non-inferiority margin")
        if metric.margin is not None and not 0 <= metric.margin < 1:
            raise DefinitionError(f"decision.metrics.{key}.margin", "a relative margin in [0, 1) such as 0.02")


def _validate_assignment(definition: ExperimentDefinition) -> None:
    if not _UNIT_PATTERN.fullmatch(definition.unit):
        raise DefinitionError("unit", "user_id, anonymous_id or a group type (letters, digits, '_')")
    if definition.phase < 1:
        raise DefinitionError("phase", "phases count from 1")
    if definition.layer is not None:
        check_key(definition.layer.name, "layer.name", DefinitionError)
    invalid = assignment_error(definition)
    if invalid is not None:
        raise DefinitionError(*invalid)
