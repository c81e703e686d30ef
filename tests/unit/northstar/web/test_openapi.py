"""The OpenAPI generator: a route described by its declared types alone."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from starlette.requests import Request
from starlette.responses import Response

from northstar.web.auth import ApiRoute, Credential
from northstar.web.openapi import SECURITY_SCHEMES, openapi_document


class Widget(msgspec.Struct):
    """A thing with a size."""

    key: str
    size: Annotated[int, msgspec.Meta(ge=0)]


class WidgetQuery(msgspec.Struct):
    """Filters."""

    colour: str | None = None


async def _handler(request: Request) -> Response:
    """Save a widget."""
    return Response()


def test_a_new_route_needs_only_its_types() -> None:
    route = ApiRoute("/v1/widgets/{key}", ("PUT",), _handler, Credential.ADMIN_SECRET, body=Widget, query=WidgetQuery,
                     answers={200: Widget})
    document = openapi_document([route, ApiRoute("/dashboard/x", ("GET",), _handler, Credential.PUBLIC)], "1.0")
    assert list(document["paths"]) == ["/v1/widgets/{key}"]
    operation = document["paths"]["/v1/widgets/{key}"]["put"]
    assert operation["summary"] == "Save a widget."
    assert operation["security"] == [{"adminSecret": []}]
    assert [(p["name"], p["in"], p["required"]) for p in operation["parameters"]] == [
        ("key", "path", True), ("colour", "query", False)]
    assert operation["parameters"][1]["schema"] == {"type": "string"}  # present or absent, never null
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Widget"}
    assert sorted(operation["responses"]) == ["200", "400", "401", "404", "413", "429"]
    assert operation["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"}
    widget = document["components"]["schemas"]["Widget"]
    assert widget["properties"]["size"] == {"type": "integer", "minimum": 0}
    assert document["components"]["securitySchemes"] == SECURITY_SCHEMES


def test_query_parameters_must_be_a_struct() -> None:
    route = ApiRoute("/v1/things", ("GET",), _handler, Credential.PUBLIC, query=dict[str, str])
    with pytest.raises(TypeError, match="msgspec Struct"):
        openapi_document([route], "1.0")
