"""HTTP routes for customer insight: cohorts, lifecycle, stickiness, paths, surveys and NPS, targets
(every route needs the admin secret).

Analytical queries go through `insights.limits.AnalyticalQueries` (time, memory and concurrency
limits); cohort filters and breakdowns resolve through `insights.cohorts.Cohorts`; domain
errors map to responses in `northstar.web.errors`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from collector.documents import decode_document
from insights.cohorts import Cohort, CohortDetail, CohortMembersPage, Cohorts, parse_cohort, static_ids_from_csv
from insights.lifecycle import (
    LifecycleQuery,
    LifecycleResult,
    StickinessResult,
    lifecycle,
    parse_lifecycle_query,
    stickiness,
)
from insights.limits import AnalyticalQueries
from insights.paths import PathPersons, PathsQuery, PathsResult, parse_paths_query, path_persons, paths
from insights.query import InsightError
from insights.surveys import NpsQuery, NpsResult, Survey, Surveys, nps, parse_nps_query, parse_survey
from insights.targets import TargetSettings, TargetStore, parse_targets
from northstar.web.auth import ApiRoute, Credential
from northstar.web.bodies import read_limited
from northstar.web.responses import json_response

__all__ = ["customer_routes", "SavedVersion", "CohortList", "SurveyList", "StaticCohortUpload"]

_MAX_QUERY_BYTES = 64 * 1024
_MAX_COHORT_BYTES = 8 << 20
"""A cohort document may list up to 100,000 uploaded ids."""


class SavedVersion(msgspec.Struct, frozen=True):
    """A stored document's key and new version."""

    ok: bool
    key: str
    version: int


class CohortList(msgspec.Struct, frozen=True):
    """Every cohort's latest version, by key."""

    cohorts: list[Cohort]


class SurveyList(msgspec.Struct, frozen=True):
    """Every described survey, by key."""

    surveys: list[Survey]


class StaticCohortUpload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A static cohort from an uploaded CSV: the first column's ids (a header such as `id` is skipped)."""

    csv: str
    name: str = ""
    description: str = ""


class CohortQuery(msgspec.Struct, frozen=True):
    """`days` of size history (default 14, at most 90) ending today in `timezone` (default UTC)."""

    days: int | None = None
    timezone: str | None = None


class CohortPersonsQuery(msgspec.Struct, frozen=True):
    """One page of members: from `offset` (default 0), `limit` persons (default 100, at most 10,000)."""

    offset: int | None = None
    limit: int | None = None


def _int_parameter(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise InsightError(name, "a whole number") from None


def customer_routes(queries: AnalyticalQueries, cohorts: Cohorts, surveys: Surveys, targets: TargetStore) -> list[ApiRoute]:
    """Cohorts, lifecycle, stickiness, paths, surveys, NPS and targets."""
    def analysis(parse: Callable[[bytes], Any], run: Callable[..., Any]) -> Callable[[Request], Any]:
        async def route(request: Request) -> Response:
            query = parse(await read_limited(request, _MAX_QUERY_BYTES))
            return json_response(await run_in_threadpool(run, queries.rows, query, cohorts.members_sql))
        route.__doc__ = run.__doc__
        return route

    async def put_cohort(request: Request) -> Response:
        """Define a cohort (a new version of its key): rules, or static ids."""
        cohort = parse_cohort(await read_limited(request, _MAX_COHORT_BYTES))
        return await _save_cohort(cohort, request.path_params["key"])

    async def put_static_cohort(request: Request) -> Response:
        """Define a static cohort from an uploaded CSV of ids (a new version of its key)."""
        upload = decode_document(await read_limited(request, _MAX_COHORT_BYTES), StaticCohortUpload, InsightError, "upload")
        key = request.path_params["key"]
        document = {"key": key, "name": upload.name, "description": upload.description,
                    "static_ids": static_ids_from_csv(upload.csv)}
        if not document["static_ids"]:
            raise InsightError("csv", "no ids in the first column")
        return await _save_cohort(parse_cohort(msgspec.json.encode(document)), key)

    async def _save_cohort(cohort: Cohort, key: str) -> Response:
        if cohort.key != key:
            raise InsightError("key", "must match the URL")
        return json_response(SavedVersion(True, key, await run_in_threadpool(cohorts.save, cohort)))

    async def get_cohort(request: Request) -> Response:
        """A cohort, its size now and at the end of each recent day."""
        days = _int_parameter(request, "days", 14)
        return json_response(await run_in_threadpool(
            cohorts.detail, request.path_params["key"], days, request.query_params.get("timezone") or "UTC"))

    async def list_cohorts(request: Request) -> Response:
        """Every cohort's latest version."""
        return json_response(CohortList(await run_in_threadpool(cohorts.list)))

    async def cohort_persons(request: Request) -> Response:
        """One page of a cohort's members (public person ids)."""
        return json_response(await run_in_threadpool(
            cohorts.members, request.path_params["key"], _int_parameter(request, "offset", 0),
            _int_parameter(request, "limit", 100)))

    async def cohort_persons_csv(request: Request) -> Response:
        """A cohort's members as CSV (`person_id` column), for export."""
        page = await run_in_threadpool(cohorts.members, request.path_params["key"], 0, 10_000)
        found = [*page.persons]
        while page.next_offset is not None:
            page = await run_in_threadpool(cohorts.members, page.key, page.next_offset, 10_000)
            found += page.persons
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["person_id"])
        writer.writerows([one] for one in found)
        return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="cohort-{page.key}.csv"'})

    async def put_survey(request: Request) -> Response:
        """Describe a survey (question, kind, scale): a new version of its key."""
        survey = parse_survey(await read_limited(request, _MAX_QUERY_BYTES))
        if survey.key != request.path_params["key"]:
            raise InsightError("key", "must match the URL")
        return json_response(SavedVersion(True, survey.key, await run_in_threadpool(surveys.save, survey)))

    async def get_survey(request: Request) -> Response:
        """A survey's description."""
        return json_response(await run_in_threadpool(surveys.get, request.path_params["key"]))

    async def list_surveys(request: Request) -> Response:
        """Every described survey."""
        return json_response(SurveyList(await run_in_threadpool(surveys.list)))

    async def get_targets(request: Request) -> Response:
        """The team's targets (reference lines on the charts)."""
        return json_response(await run_in_threadpool(targets.get))

    async def put_targets(request: Request) -> Response:
        """Replace the team's targets (a new version of the settings document)."""
        settings = parse_targets(await read_limited(request, _MAX_QUERY_BYTES))
        return json_response(SavedVersion(True, "targets", await run_in_threadpool(targets.save, settings)))

    admin = Credential.ADMIN_SECRET
    busy: dict[int, Any] = {429: None, 503: None}
    return [
        ApiRoute("/v1/cohorts", ("GET",), list_cohorts, admin, answers={200: CohortList}),
        ApiRoute("/v1/cohorts/{key}", ("PUT",), put_cohort, admin, body=Cohort, answers={200: SavedVersion}),
        ApiRoute("/v1/cohorts/{key}/static", ("PUT",), put_static_cohort, admin, body=StaticCohortUpload,
                 answers={200: SavedVersion}),
        ApiRoute("/v1/cohorts/{key}", ("GET",), get_cohort, admin, query=CohortQuery,
                 answers={200: CohortDetail, **busy}),
        ApiRoute("/v1/cohorts/{key}/persons", ("GET",), cohort_persons, admin, query=CohortPersonsQuery,
                 answers={200: CohortMembersPage, **busy}),
        ApiRoute("/v1/cohorts/{key}/persons.csv", ("GET",), cohort_persons_csv, admin, answers={200: str, **busy},
                 media_type="text/csv"),
        ApiRoute("/v1/insights/lifecycle", ("POST",), analysis(parse_lifecycle_query, lifecycle), admin,
                 body=LifecycleQuery, answers={200: LifecycleResult, **busy}),
        ApiRoute("/v1/insights/stickiness", ("POST",), analysis(parse_lifecycle_query, stickiness), admin,
                 body=LifecycleQuery, answers={200: StickinessResult, **busy}),
        ApiRoute("/v1/insights/paths", ("POST",), analysis(parse_paths_query, paths), admin, body=PathsQuery,
                 answers={200: PathsResult, **busy}),
        ApiRoute("/v1/insights/paths/persons", ("POST",),
                 analysis(lambda body: parse_paths_query(body, node_required=True), path_persons), admin,
                 body=PathsQuery, answers={200: PathPersons, **busy}),
        ApiRoute("/v1/insights/nps", ("POST",), analysis(parse_nps_query, nps), admin, body=NpsQuery,
                 answers={200: NpsResult, **busy}),
        ApiRoute("/v1/surveys", ("GET",), list_surveys, admin, answers={200: SurveyList}),
        ApiRoute("/v1/surveys/{key}", ("PUT",), put_survey, admin, body=Survey, answers={200: SavedVersion}),
        ApiRoute("/v1/surveys/{key}", ("GET",), get_survey, admin, answers={200: Survey}),
        ApiRoute("/v1/settings/targets", ("GET",), get_targets, admin, answers={200: TargetSettings}),
        ApiRoute("/v1/settings/targets", ("PUT",), put_targets, admin, body=TargetSettings,
                 answers={200: SavedVersion}),
    ]

