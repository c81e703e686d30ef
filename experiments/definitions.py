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
from sdk.assignment import weights_sum_to_one

__all__ = ["Variant", "ExperimentDefinition", "ExperimentStatus", "DefinitionError", "parse_definition", "stored_definition",
           "validate"]

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
    # Assignment and lifecycle (see sdk.experiments for the evaluation order).
    hypothesis: str = ""
    unit: str = "user_id"
    """The id assigned: "user_id", "anonymous_id" or a group type such as "company"."""
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
    if not (0.0 < definition.conversion_window_hours <= 24 * 366):
        raise DefinitionError("conversion_window_hours", "must be more than 0 and at most a year")
    _validate_assignment(definition)


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
