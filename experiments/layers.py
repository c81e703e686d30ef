"""Layers (namespaces): experiments of one layer own disjoint slices of it, so no unit is in two.

A unit's layer position is hashed from the layer name and the unit id only (see
`sdk.experiments`), independent of any experiment salt; each experiment of the layer takes a
range ``[start, end)`` of it. Disjointness is checked among running experiments, when one
is saved or started.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from experiments.definitions import ExperimentDefinition

__all__ = ["Layer", "layer_conflict"]


class Layer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A slice [start, end) of a named layer's buckets: running experiments of one layer never share a unit."""

    name: str
    start: float = 0.0
    end: float = 1.0

    def overlaps(self, other: Layer) -> bool:
        """True when both are slices of the same layer that share buckets."""
        return self.name == other.name and self.start < other.end and other.start < self.end


def layer_conflict(definition: ExperimentDefinition, others: Iterable[ExperimentDefinition]) -> str | None:
    """Why `definition` cannot run beside the running experiments in `others`, or None."""
    layer = definition.layer
    if layer is None or definition.status != "running":
        return None
    for other in others:
        if other.key != definition.key and other.status == "running" and other.layer is not None \
                and layer.overlaps(other.layer):
            return (f"[{layer.start:g}, {layer.end:g}) overlaps running experiment {other.key!r} "
                    f"([{other.layer.start:g}, {other.layer.end:g})) in layer {layer.name!r}")
    return None
