"""Experiment evaluation: which variant a unit gets, computed locally from a definition.

The one evaluation every Northstar component runs (the SDK in the app, the collector's
`POST /v1/assign`), pinned by the `evaluation` section of `tests/vectors/assignment.json`.
In order, a unit is:

1. not in the experiment unless its ``status`` is ``running``;
2. given its forced variant when ``overrides`` names its id (QA: not an exposure);
3. not in the experiment unless the ``targeting`` condition holds for its attributes;
4. not in the experiment unless its layer position lies in the ``layer`` range ``[start, end)``:
   ``uint32_be(SHA-256(utf8("layer:" + layer_name + ":" + unit_id))[0:4]) / 2**32``, the
   same for every experiment of the layer, so disjoint ranges never share a unit;
5. assigned by `sdk.assignment` from the experiment's own salt, ``coverage`` and weights.

Units not in the experiment get the control (first variant) with ``in_experiment`` False.
Definitions are compiled once (hash prefixes, ranges, targeting) so evaluation costs two
SHA-256 blocks at most.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from .assignment import choose_variant, salted_bucket, variant_ranges, weights_sum_to_one
from .targeting import TargetingError, compile_condition

__all__ = ["Assignment", "Experiment", "InvalidDefinition", "LAYER_SALT_PREFIX", "Reason", "unknown"]

Reason = Literal[
    "assigned", "override", "not_running", "not_targeted", "outside_layer", "outside_coverage",
    "unknown_experiment", "invalid_unit", "error",
]
"""Why a unit got its variant. Only ``assigned`` is an exposure (``in_experiment`` True)."""

LAYER_SALT_PREFIX = "layer:"


class InvalidDefinition(ValueError):
    """A definition the SDK cannot evaluate; `field` names the offending part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Assignment:
    """The result of evaluating one experiment for one unit."""

    experiment_key: str
    variant: str | None
    """Variant key; the control when not in the experiment; None for an unknown experiment."""
    payload: Any
    """The variant's JSON payload (None when it has none)."""
    in_experiment: bool
    reason: Reason


def unknown(experiment_key: str, default: str | None = None, reason: Reason = "unknown_experiment") -> Assignment:
    """The result for an experiment that cannot be evaluated: `default`, not in the experiment."""
    return Assignment(experiment_key, default, None, False, reason)


class Experiment:
    """A compiled definition; `evaluate` is pure and thread-safe."""

    __slots__ = ("key", "unit", "bucket_by", "salt", "running", "_variants", "_ranges", "_position",
                 "_layer", "_overrides", "_targeting", "_defaults", "_assigned")

    def __init__(self, document: Mapping[str, Any]) -> None:
        """Compile a definition document (the admin JSON or its SDK subset); raises InvalidDefinition."""
        if not isinstance(document, Mapping):
            raise InvalidDefinition("definition", "must be a JSON object")
        self.key: str = _text(document, "key")
        self.unit: str = _text(document, "unit", "user_id")
        self.bucket_by: str = _text(document, "bucket_by", "")
        if self.bucket_by not in ("", "anonymous_id"):
            raise InvalidDefinition("bucket_by", "must be \"anonymous_id\" or absent")
        self.salt: str = _text(document, "salt", "") or self.key
        self.running: bool = document.get("status") == "running"
        self._variants = _variants(document.get("variants"))
        weights = [weight for _, weight, _ in self._variants]
        coverage = document.get("coverage", 1.0)
        if not _is_number(coverage) or not 0.0 <= coverage <= 1.0:
            raise InvalidDefinition("coverage", "must be a number between 0 and 1")
        self._ranges = variant_ranges(weights, coverage)
        self._position = salted_bucket(self.salt)
        self._layer = _layer(document.get("layer"))
        payloads = {key: payload for key, _, payload in self._variants}
        self._overrides = {
            unit_id: Assignment(self.key, variant, payloads[variant], False, "override")
            for unit_id, variant in _overrides(document.get("overrides"), payloads).items()
        }
        try:
            self._targeting = compile_condition(document.get("targeting"))
        except TargetingError as error:
            raise InvalidDefinition(error.field, str(error).partition(": ")[2]) from None
        self._assigned = [Assignment(self.key, key, payload, True, "assigned") for key, _, payload in self._variants]
        control, _, control_payload = self._variants[0]
        self._defaults = {
            reason: Assignment(self.key, control, control_payload, False, reason)
            for reason in ("not_running", "not_targeted", "outside_layer", "outside_coverage", "invalid_unit")
        }

    def evaluate(self, unit_id: str | None, attributes: Mapping[str, Any] | None = None,
                 anonymous_id: str | None = None) -> Assignment:
        """The unit's variant; raises only when `attributes` is not a mapping.

        The id hashed is `anonymous_id` when the definition says ``bucket_by: "anonymous_id"``
        (or its unit is the anonymous id and `unit_id` is empty) and one is given, else
        `unit_id`: so a visitor keeps the variant it saw before logging in.
        """
        if not self.running:
            return self._defaults["not_running"]
        if anonymous_id and (self.bucket_by == "anonymous_id" or (self.unit == "anonymous_id" and not unit_id)):
            unit_id = anonymous_id
        if type(unit_id) is not str or not unit_id:
            return self._defaults["invalid_unit"]
        forced = self._overrides.get(unit_id)
        if forced is not None:
            return forced
        if not self._targeting(attributes or {}):
            return self._defaults["not_targeted"]
        try:
            encoded = unit_id.encode()
        except UnicodeEncodeError:  # lone surrogates: not text any other language could send
            return self._defaults["invalid_unit"]
        if self._layer is not None:
            layer_position, start, end = self._layer
            if not start <= layer_position(encoded) < end:
                return self._defaults["outside_layer"]
        index = choose_variant(self._position(encoded), self._ranges)
        if index is None:
            return self._defaults["outside_coverage"]
        return self._assigned[index]


def _text(document: Mapping[str, Any], field: str, default: str | None = None) -> str:
    value = document.get(field, default)
    if type(value) is not str or (default is None and not value):
        raise InvalidDefinition(field, "must be a non-empty string" if default is None else "must be a string")
    return value


def _is_number(value: Any) -> TypeGuard[float]:
    return type(value) in (int, float) and math.isfinite(value)


def _variants(variants: Any) -> list[tuple[str, float, Any]]:
    if not isinstance(variants, list) or not variants:
        raise InvalidDefinition("variants", "must be a non-empty list")
    compiled: list[tuple[str, float, Any]] = []
    for index, variant in enumerate(variants):
        if not isinstance(variant, Mapping) or type(variant.get("key")) is not str or not variant["key"]:
            raise InvalidDefinition(f"variants[{index}].key", "must be a non-empty string")
        weight = variant.get("weight")
        if not _is_number(weight) or not 0.0 <= weight <= 1.0:
            raise InvalidDefinition(f"variants[{index}].weight", "must be a number between 0 and 1")
        compiled.append((variant["key"], float(weight), variant.get("payload")))
    if len({key for key, _, _ in compiled}) != len(compiled):
        raise InvalidDefinition("variants", "variant keys must be unique")
    if not weights_sum_to_one([weight for _, weight, _ in compiled]):
        raise InvalidDefinition("variants", "weights must sum to 1")
    return compiled


def _layer(layer: Any) -> tuple[Callable[[bytes], float], float, float] | None:
    if layer is None:
        return None
    if not isinstance(layer, Mapping) or type(layer.get("name")) is not str or not layer["name"]:
        raise InvalidDefinition("layer.name", "must be a non-empty string")
    start, end = layer.get("start", 0.0), layer.get("end", 1.0)
    if not (_is_number(start) and _is_number(end) and 0.0 <= start < end <= 1.0):
        raise InvalidDefinition("layer", "needs 0 <= start < end <= 1")
    return salted_bucket(f"{LAYER_SALT_PREFIX}{layer['name']}"), float(start), float(end)


def _overrides(overrides: Any, variants: Mapping[str, Any]) -> Mapping[str, str]:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise InvalidDefinition("overrides", "must map unit ids to variant keys")
    for unit_id, variant in overrides.items():
        if type(variant) is not str or variant not in variants:
            raise InvalidDefinition(f"overrides.{unit_id}", f"{variant!r} is not a variant of this experiment")
    return overrides
