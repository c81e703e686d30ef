"""Decoding JSON documents (definitions, metrics, saved insights) into typed structs, errors naming the field,
and the one rule for the keys they are stored and addressed by (URLs, SQL parameters, files)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import msgspec

from collector.json_errors import UNREADABLE_JSON

__all__ = ["decode_document", "check_key", "KEY_PATTERN"]

T = TypeVar("T")

_KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
KEY_PATTERN = _KEY_PATTERN.pattern
"""What a key (of an experiment, a metric) is: in URLs, SQL parameters and file names alike."""


def decode_document(
    document: bytes | str, type_: type[T], error: Callable[[str, str], Exception], whole: str
) -> T:
    """Decode `document` as `type_`; raise `error(field, message)` naming the offending
    field (its JSON path), or `whole` when the document itself is not valid JSON."""
    try:
        return msgspec.json.decode(document, type=type_)
    except msgspec.ValidationError as invalid:
        text = str(invalid)
        raise error(text.rpartition("`$.")[2].rstrip("`") if "`$." in text else whole, text) from None
    except UNREADABLE_JSON as unreadable:
        raise error(whole, f"not valid JSON: {unreadable}") from None


def check_key(value: str, field: str, error: Callable[[str, str], Exception]) -> None:
    """Raise `error(field, …)` unless `value` is a key: 1-128 letters, digits, '_', '.', '-'."""
    if not _KEY_PATTERN.fullmatch(value):
        raise error(field, "use 1-128 letters, digits, '_', '.' or '-'")
