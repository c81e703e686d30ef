"""Experiment definitions: what is tested, on whom, and what counts as a conversion.

Definitions travel as JSON (admin API, SDK fetch, `experiments apply` files); decoding
checks types and `validate` checks meaning, each error naming the offending field.
"""

from __future__ import annotations

import math
import re

import msgspec

__all__ = ["Variant", "ExperimentDefinition", "DefinitionError", "parse_definition", "validate"]

_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
_WEIGHT_TOLERANCE = 1e-9


class DefinitionError(ValueError):
    """An invalid definition; `field` names what to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Variant(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    key: str
    weight: float


class ExperimentDefinition(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One experiment. The first variant is the control every other is compared with."""

    key: str
    variants: list[Variant]
    conversion_event: str
    name: str = ""
    salt: str = ""
    coverage: float = 1.0
    conversion_window_hours: float = 168.0

    @property
    def assignment_salt(self) -> str:
        """The salt fed to the assignment hash: the experiment key unless set."""
        return self.salt or self.key

    @property
    def control(self) -> Variant:
        return self.variants[0]


def parse_definition(document: bytes | str) -> ExperimentDefinition:
    """Decode and validate a JSON definition; raises DefinitionError."""
    try:
        definition = msgspec.json.decode(document, type=ExperimentDefinition)
    except msgspec.ValidationError as error:
        field = str(error).rpartition("`$.")[2].rstrip("`") if "`$." in str(error) else "definition"
        raise DefinitionError(field, str(error)) from None
    except msgspec.DecodeError as error:
        raise DefinitionError("definition", f"not valid JSON: {error}") from None
    validate(definition)
    return definition


def validate(definition: ExperimentDefinition) -> None:
    """Raise DefinitionError unless the definition can run and be analysed."""
    if not _KEY_PATTERN.fullmatch(definition.key):
        raise DefinitionError("key", "use 1-128 letters, digits, '_', '.' or '-'")
    if len(definition.variants) < 2:
        raise DefinitionError("variants", "an experiment needs at least two variants")
    keys = [variant.key for variant in definition.variants]
    if len(set(keys)) != len(keys):
        raise DefinitionError("variants", f"variant keys must be unique, got {keys}")
    for index, variant in enumerate(definition.variants):
        if not _KEY_PATTERN.fullmatch(variant.key):
            raise DefinitionError(f"variants[{index}].key", "use 1-128 letters, digits, '_', '.' or '-'")
        if not (0.0 <= variant.weight <= 1.0) or math.isnan(variant.weight):
            raise DefinitionError(f"variants[{index}].weight", "must be between 0 and 1")
    total = math.fsum(variant.weight for variant in definition.variants)
    if abs(total - 1.0) > _WEIGHT_TOLERANCE:
        raise DefinitionError("variants", f"weights must sum to 1, they sum to {total:g}")
    if not (0.0 <= definition.coverage <= 1.0):
        raise DefinitionError("coverage", "must be between 0 and 1")
    if not definition.conversion_event:
        raise DefinitionError("conversion_event", "name the event that counts as a conversion")
    if not (0.0 < definition.conversion_window_hours <= 24 * 366):
        raise DefinitionError("conversion_window_hours", "must be more than 0 and at most a year")
