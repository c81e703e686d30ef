"""Funnel and retention requests as the API, CLI and dashboard take them, turned into engine queries.

The request bodies use the shared query layer (`insights.query`): date range and zone, event
and person property filters (`validate_filters`, `insights.sql.filter_condition`), a breakdown.
Each step's filters become the SQL condition of an `insights.matching.EventMatch`; the engines
(`insights.funnels`, `insights.retention`) run through `AnalyticalQueries.rows` (time, memory
and concurrency limits). Every impossible request raises `InsightError` naming the field
(the engines' `EngineInputError` is translated here, once).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

from collector.documents import decode_document
from insights import funnels, retention
from insights.matching import EngineInputError, EventMatch
from insights.query import (
    Breakdown,
    DateRange,
    InsightError,
    PropertyFilter,
    validate_breakdown,
    validate_date_range,
    validate_filters,
)
from insights.sql import Parameters, Rows, filter_condition, property_present, property_text

__all__ = [
    "FunnelEvent", "FunnelExclusion", "FunnelRequest", "FunnelPersonsRequest", "RetentionRequest",
    "parse_funnel_request", "parse_funnel_persons_request", "parse_retention_request",
    "run_funnel", "run_funnel_persons", "run_retention",
]


class FunnelEvent(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A step (or retention's start/return event): `event`, narrowed by `filters`."""

    event: str
    filters: list[PropertyFilter] = []


class FunnelExclusion(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """`event` between steps `from_step` and `to_step` (numbered from 1) of the converting attempt removes the person."""

    event: str
    from_step: int
    to_step: int
    filters: list[PropertyFilter] = []


class FunnelRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of `POST /v1/insights/funnel`: 2 to 20 steps; step 1 within the inclusive local days."""

    steps: list[FunnelEvent]
    date_from: dt.date
    date_to: dt.date
    timezone: str = "UTC"
    window_seconds: int = funnels.DEFAULT_WINDOW_SECONDS
    order: funnels.FunnelOrder = "ordered"
    exclusions: list[FunnelExclusion] = []
    filters: list[PropertyFilter] = []
    breakdown: Breakdown | None = None
    breakdown_limit: int = 25


class FunnelPersonsRequest(FunnelRequest, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of `POST /v1/insights/funnel/persons`: who reached `step` (numbered from 1), or with
    `dropped` who reached it and no further; `breakdown_value` narrows to one breakdown value."""

    step: int = 1
    dropped: bool = False
    breakdown_value: str | None = None
    limit: int = 100
    offset: int = 0


class RetentionRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of `POST /v1/insights/retention`: one cohort per interval of the inclusive local days."""

    start_event: FunnelEvent
    return_event: FunnelEvent
    date_from: dt.date
    date_to: dt.date
    timezone: str = "UTC"
    interval: retention.RetentionInterval = "day"
    periods: int = 8
    type: retention.RetentionType = "recurring"
    window: retention.RetentionWindow = "calendar"
    cumulative: bool = False
    filters: list[PropertyFilter] = []


def parse_funnel_request(document: bytes | str) -> FunnelRequest:
    """Decode and validate a funnel request; raises InsightError naming the field."""
    request = decode_document(document, FunnelRequest, InsightError, "query")
    funnel_query(request)
    return request


def parse_funnel_persons_request(document: bytes | str) -> FunnelPersonsRequest:
    """Decode and validate a funnel persons request; raises InsightError naming the field."""
    request = decode_document(document, FunnelPersonsRequest, InsightError, "query")
    funnel_query(request)
    return request


def parse_retention_request(document: bytes | str) -> RetentionRequest:
    """Decode and validate a retention request; raises InsightError naming the field."""
    request = decode_document(document, RetentionRequest, InsightError, "query")
    retention_query(request)
    return request


@contextmanager
def _named_fields() -> Iterator[None]:
    try:
        yield
    except EngineInputError as error:
        raise InsightError(error.field, str(error).partition(": ")[2] or str(error)) from None


def _match(event: FunnelEvent, common: list[PropertyFilter], field: str) -> tuple[EventMatch, bool]:
    """The step's EventMatch and whether it reads person properties."""
    if not event.event:
        raise InsightError(f"{field}.event", "is empty")
    validate_filters(event.filters, f"{field}.filters")
    filters = [*common, *event.filters]
    for index, condition in enumerate(filters):
        if condition.type == "cohort":
            raise InsightError(f"{field}.filters[{index}].type", "cohort filters are not supported in funnels and retention yet")
    param = Parameters()
    conditions = [filter_condition(f, "properties" if f.type == "event" else "person_properties", param) for f in filters]
    return (EventMatch(event.event, " AND ".join(conditions), param.values),
            any(f.type == "person" for f in filters))


def funnel_query(request: FunnelRequest) -> funnels.FunnelQuery:
    """The engine query of a request; raises InsightError naming the field."""
    validate_date_range(DateRange(request.date_from, request.date_to, request.timezone))
    validate_filters(request.filters, "filters")
    validate_breakdown(request.breakdown, request.breakdown_limit)
    steps, persons = [], False
    for index, step in enumerate(request.steps):
        match, reads = _match(step, request.filters, f"steps[{index}]")
        steps.append(match)
        persons |= reads
    exclusions = []
    for index, exclusion in enumerate(request.exclusions):
        match, reads = _match(FunnelEvent(exclusion.event, exclusion.filters), [], f"exclusions[{index}]")
        exclusions.append(funnels.Exclusion(match, exclusion.from_step, exclusion.to_step))
        persons |= reads
    breakdown = None
    if request.breakdown is not None:
        if request.breakdown.type == "cohort":
            raise InsightError("breakdown.type", "cohort breakdowns are not supported in funnels yet")
        param = Parameters()
        column = "properties" if request.breakdown.type == "event" else "person_properties"
        key = param(request.breakdown.property_name, "String")
        breakdown = funnels.FunnelBreakdown(f"if({property_present(column, key)}, {property_text(column, key)}, NULL)",
                                            param.values, request.breakdown_limit)
        persons |= request.breakdown.type == "person"
    query = funnels.FunnelQuery(tuple(steps), request.date_from, request.date_to, request.timezone,
                                request.window_seconds, request.order, tuple(exclusions), breakdown, persons)
    with _named_fields():
        funnels.validate_funnel_query(query)
    return query


def retention_query(request: RetentionRequest) -> retention.RetentionQuery:
    """The engine query of a request; raises InsightError naming the field."""
    validate_date_range(DateRange(request.date_from, request.date_to, request.timezone))
    validate_filters(request.filters, "filters")
    start, start_persons = _match(request.start_event, request.filters, "start_event")
    back, back_persons = _match(request.return_event, request.filters, "return_event")
    query = retention.RetentionQuery(start, back, request.date_from, request.date_to, request.timezone, request.interval,
                                     request.periods, request.type, request.window, request.cumulative,
                                     start_persons or back_persons)
    with _named_fields():
        retention.validate_retention_query(query)
    return query


class _Answer:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.result_rows = rows


class _LimitedClient:
    """What the engines call (`client.query(sql, parameters=...).result_rows`), run through `rows`."""

    def __init__(self, rows: Rows) -> None:
        self._rows = rows

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> _Answer:
        return _Answer(self._rows(sql, parameters or {}))


def run_funnel(rows: Rows, request: FunnelRequest) -> funnels.FunnelResult:
    """The funnel of `request`, run through `rows` (`AnalyticalQueries.rows`)."""
    query = funnel_query(request)
    with _named_fields():
        return funnels.funnel(_LimitedClient(rows), query)  # type: ignore[arg-type]


def run_funnel_persons(rows: Rows, request: FunnelPersonsRequest) -> funnels.FunnelPersons:
    """One page of the persons who reached (or dropped after) `request.step`."""
    query = funnel_query(request)
    everyone = request.breakdown is None or request.breakdown_value is None
    with _named_fields():
        return funnels.funnel_persons(_LimitedClient(rows), query, request.step,  # type: ignore[arg-type]
                                      dropped=request.dropped, breakdown_value=request.breakdown_value,
                                      everyone=everyone, limit=request.limit, offset=request.offset)


def run_retention(rows: Rows, request: RetentionRequest) -> retention.RetentionResult:
    """The retention grid of `request`, run through `rows`."""
    query = retention_query(request)
    with _named_fields():
        return retention.retention(_LimitedClient(rows), query)  # type: ignore[arg-type]

