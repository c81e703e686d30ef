"""Decoding JSON documents (definitions, metrics) into typed structs, errors naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import msgspec

__all__ = ["decode_document"]

T = TypeVar("T")


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
    except (msgspec.DecodeError, UnicodeDecodeError) as unreadable:
        raise error(whole, f"not valid JSON: {unreadable}") from None
