"""The HTTP API's request and response types that are not domain documents.

Routes declare these (and the domain's own Structs: definitions, metrics, the results
document) on their `ApiRoute`; the OpenAPI document is generated from the declarations, so
a route's description is its types. Field names are the JSON names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from collector.events import UnitId
from collector.persons.store import Person
from experiments.definitions import ExperimentDefinition
from experiments.metrics import MetricDefinition
from insights.saved import SavedInsight

__all__ = [
    "ErrorBody", "IngestionAnswer", "RejectedEvent", "SegmentBatch", "IngestionQuery", "SavedExperiment",
    "SavedMetric", "ExperimentList", "MetricList", "ExperimentHistory", "HistoryVersion", "PutExperimentQuery",
    "ResultsQuery", "PhaseRequest", "IngestionStatus", "Health", "Readiness", "EventsQuery", "StoredEvents",
    "VerifyRequest", "VerifyAnswer", "AssignRequest", "AssignAnswer", "AssignmentAnswer", "SdkDefinitions",
    "SdkExperiment", "CatalogPropertiesQuery", "SavedInsightAnswer", "SavedInsightList",
]


class ErrorBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """Every refusal: `error` says why in one line; `field` names the invalid field of a document."""

    error: str
    success: bool = False
    field: str | None = None


class RejectedEvent(msgspec.Struct, frozen=True):
    """An event of a batch that was not stored: its index in the batch and why."""

    index: int
    reason: str


class IngestionAnswer(msgspec.Struct, frozen=True):
    """Accepted events are durable (logged and fsync'd) when this is sent; rejected ones are not stored."""

    success: bool
    accepted: int
    rejected: list[RejectedEvent]


class SegmentBatch(msgspec.Struct, frozen=True, rename="camel"):
    """A Segment batch body; each event is validated on its own (`IngestionAnswer.rejected`)."""

    batch: list[Any]
    sent_at: str | None = None
    write_key: str | None = None
    context: dict[str, Any] | None = None


class IngestionQuery(msgspec.Struct, frozen=True):
    """posthog-js marks a gzip body with `?compression=gzip-js` instead of a header."""

    compression: str | None = None


class SavedExperiment(msgspec.Struct, frozen=True):
    """The stored experiment after a save or a lifecycle change; `changed` False when nothing moved."""

    success: bool
    key: str
    version: int
    changed: bool
    status: str | None
    phase: int
    salt: str


class ApplyRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of `PUT /v1/experiments`: definitions saved all together, or none of them (each
    entry is decoded on its own, so an error names `experiments[i].field`)."""

    experiments: list[msgspec.Raw]


class AppliedExperiments(msgspec.Struct, frozen=True):
    """The answer to `PUT /v1/experiments`: one saved experiment per definition, in order."""

    success: bool
    saved: list[SavedExperiment]


class SavedMetric(msgspec.Struct, frozen=True):
    """The metric's new version."""

    success: bool
    key: str
    version: int


class ExperimentList(msgspec.Struct, frozen=True):
    """Every experiment's latest definition."""

    experiments: list[ExperimentDefinition]


class MetricList(msgspec.Struct, frozen=True):
    """Every metric's latest definition."""

    metrics: list[MetricDefinition]


class HistoryVersion(msgspec.Struct, frozen=True):
    """One stored version; `updated_at` is RFC 3339."""

    version: int
    updated_at: str
    definition: ExperimentDefinition


class ExperimentHistory(msgspec.Struct, frozen=True):
    """Every stored version of an experiment, oldest first."""

    key: str
    versions: list[HistoryVersion]


class PutExperimentQuery(msgspec.Struct, frozen=True):
    """`new_phase=true` also starts a new phase: a new salt, so a new split."""

    new_phase: bool | None = None


class ResultsQuery(msgspec.Struct, frozen=True):
    """`alpha` overrides the experiment's alpha for this read (0 < alpha < 0.5)."""

    alpha: Annotated[float, msgspec.Meta(gt=0, lt=0.5)] | None = None


class StartRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of `POST /v1/experiments/{key}/start` (optional): analyse exposures already stored
    from `phase_started_at` (ISO 8601 with a time zone) instead of from now; a draft only."""

    phase_started_at: datetime | None = None


class PhaseRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Body of `POST /v1/experiments/{key}/phases` (optional): the new phase's salt."""

    salt: str | None = None


class IngestionStatus(msgspec.Struct, frozen=True):
    """The writer's counters since start: events accepted, stored in ClickHouse, still in the log."""

    accepted: int
    stored: int
    backlog_records: int
    backlog_bytes: int
    inserts: int
    insert_failures: int
    dead_lettered: int


class Health(msgspec.Struct, frozen=True):
    """Liveness: the process answers."""

    status: str


class Readiness(msgspec.Struct, frozen=True):
    """Readiness: every problem in one line each; `ready` exactly when there are none."""

    ready: bool
    problems: list[str]


class EventsQuery(msgspec.Struct, frozen=True):
    """Filters (empty: any) and how many of the latest events to return (0 to 1000)."""

    event: str | None = None
    type: str | None = None
    user_id: str | None = None
    limit: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None


class StoredEvents(msgspec.Struct, frozen=True):
    """The latest matching events (columns of the events table) and the distinct total."""

    total: int
    events: list[dict[str, Any]]


class VerifyRequest(msgspec.Struct, frozen=True):
    """Up to 100,000 message ids."""

    message_ids: list[str]


class VerifyAnswer(msgspec.Struct, frozen=True):
    """Ids not stored, ids counted more than once, and physical copies waiting for a merge."""

    checked: int
    missing: list[str]
    duplicated: list[str]
    extra_copies: int


class AssignRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """`experiments` None: every running experiment. `anonymous_id` is the visitor's device id:
    hashed by experiments that bucket by it, and logged beside the unit id with exposures;
    One of them is required; `unit_id` may be left out when `anonymous_id` is given (a visitor
    not logged in)."""

    unit_id: UnitId | None = None
    anonymous_id: UnitId | None = None
    attributes: dict[str, Any] = {}
    experiments: list[str] | None = None
    log_exposures: bool = False


class AssignmentAnswer(msgspec.Struct, frozen=True):
    """The SDK's assignment: `reason` says why a unit is or is not in the experiment."""

    variant: str | None
    payload: Any
    in_experiment: bool
    reason: str


class AssignAnswer(msgspec.Struct, frozen=True, omit_defaults=True):
    """Assignments by experiment key; `exposures_logged` only when exposures were asked for."""

    unit_id: UnitId
    assignments: dict[str, AssignmentAnswer]
    exposures_logged: int | None = None


class SdkExperiment(msgspec.Struct, frozen=True):
    """What an SDK evaluates locally (`experiments.assignment.sdk_document`)."""

    key: str
    unit: str
    bucket_by: str
    status: str
    salt: str
    phase: int
    coverage: float
    variants: list[dict[str, Any]]
    targeting: dict[str, Any] | None
    layer: dict[str, Any] | None
    overrides: dict[str, str]


class SdkDefinitions(msgspec.Struct, frozen=True):
    """The running experiments, served with a strong ETag (304 to a matching If-None-Match)."""

    experiments: list[SdkExperiment]


class PersonsQuery(msgspec.Struct, frozen=True):
    """Persons whose `property` equals `value` (none: every person), latest activity first, at most `limit` (0 to 1000)."""

    property: str | None = None
    value: str | None = None
    limit: Annotated[int, msgspec.Meta(ge=0, le=1000)] | None = None


class PersonList(msgspec.Struct, frozen=True):
    """Persons, latest activity first (`merge_refusals` is counted on a person's own page only)."""

    persons: list[Person]


class CatalogPropertiesQuery(msgspec.Struct, frozen=True):
    """`event`: one event's properties (none: every event's); `type=person`: person properties instead."""

    event: str | None = None
    type: Literal["event", "person"] | None = None


class SavedInsightAnswer(msgspec.Struct, frozen=True):
    """The saved insight's new version."""

    success: bool
    key: str
    version: int


class SavedInsightList(msgspec.Struct, frozen=True):
    """Every saved insight's latest version, by key."""

    insights: list[SavedInsight]
