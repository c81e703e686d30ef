"""The OpenAPI 3.1 description of the HTTP API, generated from the routes' declared types.

Every `ApiRoute` outside the dashboard (HTML pages, not API) becomes an operation: its path
parameters (keys, `collector.documents.KEY_PATTERN`), its `query` Struct's fields, its
`body` type, its `answers`, the refusals every route of its kind can give (`ErrorBody`:
400 for a body or query, 401 behind a credential, 404 for a keyed path, 413 for a body),
and the credential it needs as a security scheme. JSON Schemas come from msgspec
(`msgspec.json.schema_components`), so a new route needs only its types declared.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from collector.documents import KEY_PATTERN
from northstar.web.api_types import ErrorBody
from northstar.web.auth import ApiRoute, Credential

__all__ = ["openapi_document", "openapi_route", "SECURITY_SCHEMES"]

OPENAPI_PATH = "/v1/openapi.json"

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "writeKey": {"type": "http", "scheme": "basic",
                 "description": "The write key as the HTTP Basic username (password empty)."},
    "sdkKey": {"type": "http", "scheme": "basic",
               "description": "The key SDKs fetch definitions and assignments with, as the HTTP Basic username."},
    "adminSecret": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <admin secret>."},
}
# By credential name, so a credential kind added to `Credential` gets its scheme here or fails loudly.
_SCHEMES_OF: dict[str, list[dict[str, list[str]]]] = {
    "PUBLIC": [],
    "WRITE_KEY": [{"sdkKey": []}],
    "SDK_KEY": [{"sdkKey": []}],
    # Ingestion also takes the key in the body (Segment's writeKey, PostHog's api_key).
    "EVENT_WRITE_KEY": [{"writeKey": []}, {}],
    "ADMIN_SECRET": [{"adminSecret": []}],
}
_REFUSALS = {400: "Bad request: the reason names the field or limit",
             401: "Missing or wrong credential",
             403: "A credential of the wrong kind for this route (a write key where the SDK key is needed)", 404: "No such key", 409: "Conflict with the stored state",
             413: "Body over the route's limit",
             429: "Too many refused secrets from this address: retry after Retry-After", 503: "Overloaded or the log is unavailable: retry after Retry-After"}
_PATH_PARAMETER = re.compile(r"{(\w+)}")
_REF = "#/components/schemas/{name}"


def openapi_document(routes: Iterable[ApiRoute], version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes` (dashboard pages left out): deterministic for the same routes."""
    described = [route for route in routes if not route.path.startswith("/dashboard")]
    types = _declared_types(described)
    schemas, components = msgspec.json.schema_components([_describable(t) for t in types], ref_template=_REF)
    schema_of = dict(zip(types, schemas))
    paths: dict[str, dict[str, Any]] = {}
    for route in described:
        for method in route.methods:
            paths.setdefault(route.path, {})[method.lower()] = _operation(route, method, schema_of, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Northstar", "version": version,
                 "description": "Segment-compatible ingestion, experiment management and results."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }


def openapi_route(routes: Sequence[ApiRoute], version: str) -> ApiRoute:
    """`GET /v1/openapi.json` (no credential) serving the document of `routes` and of itself."""
    document: bytes = b""

    async def openapi(request: Request) -> Response:
        return Response(document, media_type="application/json")

    route = ApiRoute(OPENAPI_PATH, ("GET",), openapi, Credential.PUBLIC, answers={200: dict[str, Any]})
    document = msgspec.json.encode(openapi_document([*routes, route], version))
    return route


def _declared_types(routes: Sequence[ApiRoute]) -> list[Any]:
    found: list[Any] = [ErrorBody]
    for route in routes:
        for declared in (route.body, route.query, *route.answers.values()):
            for type_ in declared if isinstance(declared, tuple) else (declared,):
                if type_ is not None and type_ not in found:
                    found.append(type_)
    return found


def _describable(type_: Any) -> Any:
    """`type_`, or for a Struct with `msgspec.Raw` defaults (which msgspec cannot write into a
    schema: raw JSON kept as the client sent it) the same Struct with those defaults unstated."""
    if not (isinstance(type_, type) and issubclass(type_, msgspec.Struct)):
        return type_
    fields = msgspec.structs.fields(type_)
    if not any(isinstance(field.default, msgspec.Raw) for field in fields):
        return type_
    described = []
    for field in fields:
        if isinstance(field.default, msgspec.Raw):
            spec = msgspec.field(name=field.encode_name, default_factory=dict)
        elif field.default is not msgspec.NODEFAULT:
            spec = msgspec.field(name=field.encode_name, default=field.default)
        elif field.default_factory is not msgspec.NODEFAULT:
            spec = msgspec.field(name=field.encode_name, default_factory=field.default_factory)
        else:
            spec = msgspec.field(name=field.encode_name)
        described.append((field.name, field.type, spec))
    copy = msgspec.defstruct(type_.__name__, described, module=type_.__module__)
    copy.__doc__ = type_.__doc__
    return copy


def _operation(
    route: ApiRoute, method: str, schema_of: dict[Any, Any], components: dict[str, Any]
) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": f"^{KEY_PATTERN}$"}}
        for name in _PATH_PARAMETER.findall(route.path)
    ]
    if route.query is not None:
        info = msgspec.inspect.type_info(route.query)
        if not isinstance(info, msgspec.inspect.StructType):
            raise TypeError(f"{route.path}: query parameters are declared as a msgspec Struct, not {route.query!r}")
        properties = components[schema_of[route.query]["$ref"].rpartition("/")[2]]["properties"]
        parameters += [{"name": field.encode_name, "in": "query", "required": field.required,
                        "schema": _non_null(properties[field.encode_name])} for field in info.fields]
    operation: dict[str, Any] = {
        "operationId": _operation_id(route, method),
        "summary": _summary(route),
        "security": _SCHEMES_OF[route.credential.name],
        "parameters": parameters,
        "responses": _responses(route, schema_of),
    }
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema_of[route.body]}}}
    return operation


def _responses(route: ApiRoute, schema_of: dict[Any, Any]) -> dict[str, Any]:
    refusals = {400} if route.body is not None or route.query is not None else set()
    if route.credential is not Credential.PUBLIC:
        refusals.add(401)
    if route.credential not in (Credential.PUBLIC, Credential.EVENT_WRITE_KEY):
        refusals.add(429)  # refused secrets are throttled per address (northstar.web.throttle)
    if _PATH_PARAMETER.search(route.path):
        refusals.add(404)
    if route.body is not None:
        refusals.add(413)
    answers: dict[int, Any] = {status: ErrorBody for status in refusals} | dict(route.answers)
    responses: dict[str, Any] = {}
    for status, answer in sorted(answers.items()):
        description = "OK" if status < 300 else "Not modified" if status == 304 else _REFUSALS.get(status, "Refused")
        if status >= 400 and answer is None:
            answer = ErrorBody
        if answer is None:
            responses[str(status)] = {"description": description}
            continue
        options = answer if isinstance(answer, tuple) else (answer,)
        schema = schema_of[options[0]] if len(options) == 1 else {"anyOf": [schema_of[o] for o in options]}
        media_type = route.media_type if status < 300 else "application/json"
        responses[str(status)] = {"description": description, "content": {media_type: {"schema": schema}}}
    return responses


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: present or absent, never null."""
    options = [option for option in schema.get("anyOf", []) if option.get("type") != "null"]
    if len(options) == 1:
        schema = {key: value for key, value in schema.items() if key != "anyOf"} | options[0]
    return {key: value for key, value in schema.items() if not (key == "default" and value is None)}


def _operation_id(route: ApiRoute, method: str) -> str:
    words = [word for word in re.split(r"[^A-Za-z0-9]+", _PATH_PARAMETER.sub(r"by_\1", route.path)) if word]
    return "_".join([method.lower(), *words]) or method.lower()


def _summary(route: ApiRoute) -> str:
    doc = (route.handler.__doc__ or "").strip().splitlines()
    return doc[0] if doc else f"{' '.join(route.methods)} {route.path}"
