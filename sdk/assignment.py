"""Deterministic variant assignment: the one hash every Northstar component shares.

A unit's position in an experiment is a pure function of the experiment's salt and the
unit id, the same in every process, release and language:

    bucket(salt, unit_id) = uint32_be(SHA-256(utf8(salt + ":" + unit_id))[0:4]) / 2**32

so it lies in [0, 1). Variants own consecutive ranges of that interval, each
`coverage * weight` wide and starting where the previous variant's full-coverage range
starts, so raising coverage only adds units and never moves one that was already in.
SHA-256 is in every standard library and in ClickHouse (`SHA256`), so analysis can
recompute assignments in SQL.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence

__all__ = [
    "WEIGHT_TOLERANCE", "bucket", "salted_bucket", "variant_ranges", "choose_variant", "assign_variant",
    "weights_sum_to_one",
]

WEIGHT_TOLERANCE = 1e-9
"""How far from 1 the variant weights of a valid definition may sum (float rounding)."""

_BUCKET_SCALE = 4294967296.0  # 2**32
_sha256 = hashlib.sha256
_from_bytes = int.from_bytes


def bucket(salt: str, unit_id: str) -> float:
    """Return the unit's position in [0, 1) for an experiment salt."""
    return _position(_sha256(f"{salt}:{unit_id}".encode()).digest())


def salted_bucket(salt: str) -> Callable[[bytes], float]:
    """`bucket(salt, ·)` over UTF-8 encoded unit ids, with the salt's hash state computed once."""
    prefix = _sha256(f"{salt}:".encode())

    def position(encoded_unit_id: bytes) -> float:
        hasher = prefix.copy()
        hasher.update(encoded_unit_id)
        return _position(hasher.digest())

    return position


def _position(digest: bytes) -> float:
    return _from_bytes(digest[:4], "big") / _BUCKET_SCALE


def weights_sum_to_one(weights: Sequence[float]) -> bool:
    """True when variant weights sum to 1 within `WEIGHT_TOLERANCE`."""
    return abs(math.fsum(weights) - 1.0) <= WEIGHT_TOLERANCE


def variant_ranges(weights: Sequence[float], coverage: float = 1.0) -> list[tuple[float, float]]:
    """Half-open [start, end) bucket range of each variant.

    `weights` must be non-negative and sum to 1; `coverage` in [0, 1] is the share of
    units included in the experiment at all.
    """
    coverage = min(max(coverage, 0.0), 1.0)
    ranges: list[tuple[float, float]] = []
    start = 0.0
    for weight in weights:
        ranges.append((start, start + coverage * weight))
        start += weight
    return ranges


def choose_variant(position: float, ranges: Sequence[tuple[float, float]]) -> int | None:
    """Index of the range holding `position`, or None when the unit is not covered."""
    for index, (start, end) in enumerate(ranges):
        if start <= position < end:
            return index
    return None


def assign_variant(
    salt: str,
    unit_id: str,
    variants: Sequence[str],
    weights: Sequence[float],
    coverage: float = 1.0,
) -> str | None:
    """Variant key for a unit, or None when the unit falls outside the coverage."""
    index = choose_variant(bucket(salt, unit_id), variant_ranges(weights, coverage))
    return None if index is None else variants[index]
