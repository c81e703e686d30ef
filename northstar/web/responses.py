"""JSON responses and the error body every route uses."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.responses import Response

__all__ = ["json_response", "error_response", "field_error_response"]

_encoder = msgspec.json.Encoder()


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """`content` encoded by msgspec (Structs, dataclasses, builtins) as an application/json response."""
    return Response(_encoder.encode(content), status_code, headers, media_type="application/json")


def error_response(status_code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A refusal: `{"success": false, "error": message}` (`ErrorBody`) with `status_code`."""
    return json_response({"success": False, "error": message}, status_code, headers)


def field_error_response(field: str, message: str) -> Response:
    """400 for a document with one invalid field, named so a client can point at it."""
    return json_response({"success": False, "error": message, "field": field}, 400)
