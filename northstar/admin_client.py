"""A small stdlib HTTP client for the server's admin API: experiments and their lifecycle,
metrics, results, insights (trends, catalog, saved), status, events.

Readers go through the server because the server process owns the embedded store.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sdk.transport import base_url

if TYPE_CHECKING:
    from experiments.result_document import ResultDocument

__all__ = ["AdminClient", "ApiError"]

_VERIFY_IDS_PER_REQUEST = 50_000  # the server takes up to 100,000


class ApiError(RuntimeError):
    """The server refused or could not be reached; the message is one line for a person."""


class AdminClient:
    """The admin API over HTTP with the bearer secret; every failure is an ApiError of one line."""

    def __init__(self, url: str, admin_secret: str, timeout: float = 30.0) -> None:
        """`url` as the SDK takes its host: ``127.0.0.1:8080`` means ``http://127.0.0.1:8080``."""
        self._url = base_url(url)
        self._secret = admin_secret
        self._timeout = timeout

    def results(self, key: str) -> dict[str, Any]:
        """The results document as JSON values (what `--json` prints)."""
        return self._request("GET", f"{_experiment_path(key)}/results")

    def result_document(self, key: str) -> ResultDocument:
        """The results document, typed: what the CLI table and the demo render."""
        import msgspec

        from experiments.result_document import decode_result_document

        body = self._send("GET", f"{_experiment_path(key)}/results")
        try:
            return decode_result_document(body)
        except msgspec.ValidationError as error:
            raise ApiError(f"GET {_experiment_path(key)}/results: not a results document: {error}") from None

    def save_experiment(self, definition: dict[str, Any], *, new_phase: bool = False) -> dict[str, Any]:
        """Create or update a definition; `new_phase` also starts a new phase (a new split)."""
        query = "?new_phase=true" if new_phase else ""
        return self._request("PUT", _experiment_path(definition["key"]) + query, definition)

    def get_experiment(self, key: str) -> dict[str, Any]:
        """The stored definition, with the server-managed fields (status, phase, times)."""
        return self._request("GET", _experiment_path(key))

    def apply_experiments(self, definitions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Save every definition or none (the server checks them all first); answers one
        `save_experiment`-like document per definition, in order."""
        return self._request("PUT", "/v1/experiments", {"experiments": definitions})["saved"]

    def list_experiments(self) -> list[dict[str, Any]]:
        """Every experiment's latest definition."""
        return self._request("GET", "/v1/experiments")["experiments"]

    def start_experiment(self, key: str, phase_started_at: str | None = None) -> dict[str, Any]:
        """Draft or stopped → running; answers like `save_experiment` (status, phase, version...).

        `phase_started_at` (ISO 8601 with a time zone; a draft only) analyses the exposures
        already stored from that time instead of from now."""
        body = None if phase_started_at is None else {"phase_started_at": phase_started_at}
        return self._request("POST", f"{_experiment_path(key)}/start", body)

    def stop_experiment(self, key: str) -> dict[str, Any]:
        """Running → stopped; answers like `start_experiment`."""
        return self._request("POST", f"{_experiment_path(key)}/stop")

    def new_phase(self, key: str, salt: str | None = None) -> dict[str, Any]:
        """Start a new phase: a new salt (`salt`, else one the server derives), so a new split."""
        return self._request("POST", f"{_experiment_path(key)}/phases", {} if salt is None else {"salt": salt})

    def experiment_history(self, key: str) -> list[dict[str, Any]]:
        """Every stored version, oldest first: `{"version", "updated_at", "definition"}`."""
        return self._request("GET", f"{_experiment_path(key)}/history")["versions"]

    def save_metric(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Store a metric definition as a new version; answers `{"key", "version", ...}`."""
        return self._request("PUT", f"/v1/metrics/{quote(definition['key'], safe='')}", definition)

    def get_metric(self, key: str) -> dict[str, Any]:
        """The latest definition of a metric."""
        return self._request("GET", f"/v1/metrics/{quote(key, safe='')}")

    def list_metrics(self) -> list[dict[str, Any]]:
        """Every metric's latest definition."""
        return self._request("GET", "/v1/metrics")["metrics"]

    def trends(self, query: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/insights/trends`: `{"series": [{"label", "breakdown_value", "dates", "values", ...}], ...}`."""
        return self._request("POST", "/v1/insights/trends", query)

    def funnel(self, query: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/insights/funnel`: `{"steps": [{"event", "count", "conversion_from_first", ...}], "breakdowns"}`."""
        return self._request("POST", "/v1/insights/funnel", query)

    def funnel_persons(self, query: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/insights/funnel/persons`: `{"person_ids": [...], "has_more"}` of a step (`"dropped"`: after it)."""
        return self._request("POST", "/v1/insights/funnel/persons", query)

    def retention(self, query: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/insights/retention`: `{"cohorts": [{"start", "size", "values"}]}`."""
        return self._request("POST", "/v1/insights/retention", query)

    def catalog_events(self) -> list[dict[str, Any]]:
        """Event names of the last 30 days: `{"name", "count_30d", "last_seen"}`, most frequent first."""
        return self._request("GET", "/v1/catalog/events")["events"]

    def catalog_properties(self, event: str | None = None, kind: str = "event") -> list[dict[str, Any]]:
        """Properties of `event` (every event's when None), or person properties with `kind` person."""
        query = urlencode({"type": kind, **({"event": event} if event is not None else {})})
        return self._request("GET", f"/v1/catalog/properties?{query}")["properties"]

    def save_insight(self, insight: dict[str, Any]) -> dict[str, Any]:
        """Store a saved insight as a new version; answers `{"key", "version", ...}`."""
        return self._request("PUT", f"/v1/insights/saved/{quote(insight['key'], safe='')}", insight)

    def get_insight(self, key: str) -> dict[str, Any]:
        """The latest version of a saved insight."""
        return self._request("GET", f"/v1/insights/saved/{quote(key, safe='')}")

    def list_insights(self) -> list[dict[str, Any]]:
        """Every saved insight's latest version."""
        return self._request("GET", "/v1/insights/saved")["insights"]

    def insight(self, kind: str, query: dict[str, Any]) -> dict[str, Any]:
        """`POST /v1/insights/{kind}` (lifecycle, stickiness, paths, paths/persons, nps): the analysis's answer."""
        return self._request("POST", f"/v1/insights/{kind}", query)

    def save_cohort(self, cohort: dict[str, Any]) -> dict[str, Any]:
        """Define a cohort (rules or static_ids) as a new version; answers `{"key", "version", ...}`."""
        return self._request("PUT", f"/v1/cohorts/{quote(cohort['key'], safe='')}", cohort)

    def upload_cohort(self, key: str, csv_text: str, name: str = "") -> dict[str, Any]:
        """Define a static cohort from CSV text (the first column's ids)."""
        return self._request("PUT", f"/v1/cohorts/{quote(key, safe='')}/static", {"csv": csv_text, "name": name})

    def get_cohort(self, key: str, days: int = 14) -> dict[str, Any]:
        """A cohort with its size now (`persons`) and at the end of each of the last `days` days (`sizes`)."""
        return self._request("GET", f"/v1/cohorts/{quote(key, safe='')}?days={days}")

    def list_cohorts(self) -> list[dict[str, Any]]:
        """Every cohort's latest version."""
        return self._request("GET", "/v1/cohorts")["cohorts"]

    def cohort_persons(self, key: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        """One page of a cohort's members: `{"total", "persons", "next_offset", ...}`."""
        return self._request("GET", f"/v1/cohorts/{quote(key, safe='')}/persons?offset={offset}&limit={limit}")

    def save_survey(self, survey: dict[str, Any]) -> dict[str, Any]:
        """Describe a survey (question, kind, scale)."""
        return self._request("PUT", f"/v1/surveys/{quote(survey['key'], safe='')}", survey)

    def targets(self) -> list[dict[str, Any]]:
        """The team's targets."""
        return self._request("GET", "/v1/settings/targets")["targets"]

    def save_targets(self, targets: list[dict[str, Any]]) -> dict[str, Any]:
        """Replace the team's targets."""
        return self._request("PUT", "/v1/settings/targets", {"targets": targets})

    def status(self) -> dict[str, Any]:
        """The ingestion counters: accepted, stored, backlog, inserts, failures, dead-lettered."""
        return self._request("GET", "/v1/status")

    def wait_until_stored(self, timeout: float = 60.0) -> dict[str, Any]:
        """Poll until the log holds nothing not yet in ClickHouse; returns the last status."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.status()
            if status["backlog_records"] == 0 or time.monotonic() > deadline:
                return status
            time.sleep(0.05)

    def events(
        self, *, event: str = "", type: str = "", user_id: str = "", limit: int = 100
    ) -> dict[str, Any]:
        """Latest stored events matching the filters (empty = any) and their distinct total."""
        query = urlencode({"event": event, "type": type, "user_id": user_id, "limit": limit})
        return self._request("GET", f"/v1/events?{query}")

    def verify(self, message_ids: list[str]) -> dict[str, Any]:
        """Which of these message ids are missing, or counted more than once.

        `extra_copies` counts physical rows beyond one per id: resends waiting for a merge
        to collapse them (never counted twice, but zero when nothing was resent). Any number
        of ids: they are sent in requests under the server's per-request limit.
        """
        report: dict[str, Any] = {"checked": len(set(message_ids)), "missing": [], "duplicated": [],
                                  "extra_copies": 0}
        for start in range(0, len(message_ids), _VERIFY_IDS_PER_REQUEST):
            chunk = message_ids[start:start + _VERIFY_IDS_PER_REQUEST]
            answer = self._request("POST", "/v1/events/verify", {"message_ids": chunk})
            report["missing"] += answer["missing"]
            report["duplicated"] += answer["duplicated"]
            report["extra_copies"] += answer["extra_copies"]
        return report

    def person(self, id_or_person_id: str) -> dict[str, Any]:
        """The person owning a distinct id (or with that person id); ApiError 404 when unknown."""
        return self._request("GET", f"/v1/persons/{quote(id_or_person_id, safe='')}")

    def persons(self, *, property_name: str = "", value: str = "", limit: int = 100) -> list[dict[str, Any]]:
        """Persons, latest activity first; with `property_name`, those whose property equals `value`."""
        query = urlencode({"property": property_name, "value": value, "limit": limit} if property_name
                          else {"limit": limit})
        return self._request("GET", f"/v1/persons?{query}")["persons"]

    def delete_person(self, id_or_person_id: str) -> dict[str, Any]:
        """Remove a person, its ids and its events."""
        return self._request("DELETE", f"/v1/persons/{quote(id_or_person_id, safe='')}")

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        try:
            return json.loads(self._send(method, path, body))
        except ValueError:
            raise ApiError(f"{method} {path}: the answer is not JSON") from None

    def _send(self, method: str, path: str, body: Any = None) -> bytes:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self._url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self._secret}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                answer: bytes = response.read()
                return answer
        except urllib.error.HTTPError as error:
            raise ApiError(f"{method} {path}: HTTP {error.code}: {_error_message(error)}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ApiError(f"cannot reach {self._url}: {reason}") from None


def _experiment_path(key: str) -> str:
    return f"/v1/experiments/{quote(key, safe='')}"


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        return str(json.load(error).get("error", error.reason))
    except (ValueError, AttributeError):
        return str(error.reason)
