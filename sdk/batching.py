"""Packing encoded messages into `/v1/batch` request bodies within count and size limits."""

from __future__ import annotations

from collections.abc import Sequence

_HEAD = b'{"batch":['
_TAIL = b'],"sentAt":"'
_END = b'"}'

ENVELOPE_BYTES = len(_HEAD) + len(_TAIL) + len(_END) + 40
"""Upper bound of a body's bytes besides its messages and commas (sentAt is ≤ 32 characters)."""


def batch_body(encoded: Sequence[bytes], sent_at: str) -> bytes:
    """The JSON request body ``{"batch": [...], "sentAt": ...}`` around already-encoded messages."""
    return b"".join((_HEAD, b",".join(encoded), _TAIL, sent_at.encode(), _END))


def split_batches(encoded: Sequence[bytes], max_count: int, max_bytes: int) -> list[list[bytes]]:
    """Consecutive, non-empty runs of `encoded`, in order, each at most `max_count` messages and
    (unless a single message alone is larger) a body of at most `max_bytes`."""
    batches: list[list[bytes]] = []
    current: list[bytes] = []
    size = ENVELOPE_BYTES - 1  # the first message brings no comma
    for message in encoded:
        grown = size + 1 + len(message)
        if current and (len(current) == max_count or grown > max_bytes):
            batches.append(current)
            current, grown = [], ENVELOPE_BYTES + len(message)
        current.append(message)
        size = grown
    if current:
        batches.append(current)
    return batches
