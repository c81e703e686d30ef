"""Assignment on the server: the document SDKs evaluate, compiled by the SDK's own code.

The collector never re-implements evaluation: `POST /v1/assign` and definition validation
compile `sdk_document(definition)` with `sdk.experiments.Experiment`, exactly what an SDK
does with `GET /v1/sdk/definitions`, so a definition the server accepts is one every SDK
evaluates the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from sdk.experiments import Experiment, InvalidDefinition

if TYPE_CHECKING:
    from experiments.definitions import ExperimentDefinition

__all__ = ["sdk_document", "compile_definition", "assignment_error"]


def sdk_document(definition: ExperimentDefinition) -> dict[str, Any]:
    """What an SDK needs of a definition (no metrics, hypothesis or analysis settings)."""
    return {
        "key": definition.key,
        "unit": definition.unit,
        "bucket_by": definition.bucket_by,
        "status": definition.status or "draft",
        "salt": definition.assignment_salt,
        "phase": definition.phase,
        "coverage": definition.coverage,
        "variants": [{"key": v.key, "weight": v.weight, "payload": v.payload} for v in definition.variants],
        "targeting": definition.targeting,
        "layer": None if definition.layer is None else msgspec.to_builtins(definition.layer),
        "overrides": definition.overrides,
    }


def compile_definition(definition: ExperimentDefinition) -> Experiment:
    """The SDK's compiled form; raises sdk.experiments.InvalidDefinition."""
    return Experiment(sdk_document(definition))


def assignment_error(definition: ExperimentDefinition) -> tuple[str, str] | None:
    """(field, message) when the SDK could not evaluate the definition, else None."""
    try:
        compile_definition(definition)
    except InvalidDefinition as error:
        return error.field, str(error).partition(": ")[2]
    return None
