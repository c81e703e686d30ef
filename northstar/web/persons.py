"""Admin routes over persons: show one (by distinct id or person id), list, delete."""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from collector.persons.derivation import PersonDerivation
from collector.persons.store import Person, PersonDeleted, delete_person, find_person, list_persons
from collector.storage.clickhouse import Client, per_thread
from northstar.web.api_types import PersonList, PersonsQuery
from northstar.web.auth import ApiRoute, Credential
from northstar.web.responses import error_response, json_response

__all__ = ["person_routes", "MAX_PERSONS"]

MAX_PERSONS = 1000


def person_routes(persons: PersonDerivation, connect: Callable[[], Client], cluster: str | None = None) -> list[ApiRoute]:
    """`GET /v1/persons/{id}`, `GET /v1/persons?property=&value=&limit=`, `DELETE /v1/persons/{id}`
    (admin secret). Each first brings persons up to date with the stored links."""
    client = per_thread(connect)

    async def show(request: Request) -> Response:
        await run_in_threadpool(persons.refresh)
        person = await run_in_threadpool(find_person, client(), request.path_params["id"])
        return json_response(person)

    async def listed(request: Request) -> Response:
        params = request.query_params
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            limit = -1
        if not 0 <= limit <= MAX_PERSONS:
            return error_response(400, f"limit: must be an integer from 0 to {MAX_PERSONS}")
        if "value" in params and not params.get("property"):
            return error_response(400, "property: name the property that value is compared with")
        await run_in_threadpool(persons.refresh)
        found = await run_in_threadpool(list_persons, client(), params.get("property", ""), params.get("value", ""),
                                        limit)
        return json_response(PersonList(found))

    async def delete(request: Request) -> Response:
        await run_in_threadpool(persons.refresh)
        deleted = await run_in_threadpool(delete_person, client(), request.path_params["id"], cluster)
        await run_in_threadpool(persons.refresh)
        return json_response(deleted)

    admin = Credential.ADMIN_SECRET
    return [
        ApiRoute("/v1/persons", ("GET",), listed, admin, query=PersonsQuery, answers={200: PersonList}),
        ApiRoute("/v1/persons/{id}", ("GET",), show, admin, answers={200: Person, 404: None}),
        ApiRoute("/v1/persons/{id}", ("DELETE",), delete, admin, answers={200: PersonDeleted, 404: None}),
    ]
