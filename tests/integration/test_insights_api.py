"""Insights over HTTP on a real collector: events sent through the ingestion API, trends equal the
reference, the catalog lists them, saved insights round-trip, bad input names the field, and an
analytical query past its limit is cut off with a clear error."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient, ApiError
from tests.reference import trends as reference

DAY = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)  # America/New_York falls back this day


def _messages(event: str, start: dt.datetime = DAY) -> list[dict[str, Any]]:
    found = []
    for n in range(40):
        user = f"{event}-user-{n % 9}"
        found.append({"type": "track", "event": event, "userId": user, "messageId": str(uuid.uuid4()),
                      "timestamp": start + dt.timedelta(hours=n * 1.5),
                      "properties": {"plan": ["free", "pro", "team"][n % 3], "amount": n}})
    found += [{"type": "identify", "userId": f"{event}-user-{n}", "messageId": str(uuid.uuid4()), "timestamp": start,
               "traits": {"country": "DE" if n % 2 else "US"}} for n in range(9)]
    return found


def _send(collector: CollectorProcess, messages: list[dict[str, Any]]) -> None:
    batch = [{**m, "timestamp": m["timestamp"].isoformat()} for m in messages]
    answer = httpx.post(f"{collector.url}/v1/import", json={"batch": batch}, auth=(collector.write_key, ""))
    assert answer.status_code == 200 and answer.json()["accepted"] == len(batch), answer.text


@pytest.fixture(scope="module")
def sent(collector: CollectorProcess) -> tuple[str, list[dict[str, Any]]]:
    event = f"Checkout {uuid.uuid4().hex[:8]}"
    messages = _messages(event)
    _send(collector, messages)
    AdminClient(collector.url, collector.admin_secret).wait_until_stored()
    return event, messages


@pytest.mark.parametrize("query", [
    {"series": [{"math": "persons"}, {"math": "p90", "property": "amount"}], "interval": "hour",
     "timezone": "America/New_York"},
    {"series": [{"math": "total"}], "breakdown": {"property": "plan"}, "breakdown_limit": 2,
     "filters": [{"property": "country", "type": "person", "operator": "equals", "value": "DE"}]},
    {"series": [{"math": "wau"}, {"math": "per_person_avg"}], "timezone": "Europe/Berlin",
     "breakdown": {"property": "country", "type": "person"}},
])
def test_trends_over_http_equal_the_reference(api: AdminClient, sent: tuple[str, list[dict[str, Any]]],
                                              query: dict[str, Any]) -> None:
    event, messages = sent
    query = {**query, "date_from": "2026-10-31", "date_to": "2026-11-03",
             "series": [{**series, "event": event} for series in query["series"]]}
    answer = api.trends(query)["series"]
    expected = reference.trends(messages, query)
    assert [(s["label"], s["dates"]) for s in answer] == [(s["label"], s["dates"]) for s in expected]
    assert [s["values"] for s in answer] == [pytest.approx(s["values"]) for s in expected]
    if query.get("interval") == "hour":
        assert len(answer[0]["dates"]) == 4 * 24 + 1  # the fall-back day has 25 hours


def test_the_catalog_lists_events_and_their_properties(tmp_path: Path) -> None:
    with CollectorProcess(tmp_path / "collector") as collector:
        api = AdminClient(collector.url, collector.admin_secret)
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=3)
        _send(collector, _messages("Signup", start))
        api.wait_until_stored()
        catalog = api.catalog_events()  # the first read builds the snapshot; the server refreshes it periodically
        assert [(one["name"], one["count_30d"]) for one in catalog] == [("Signup", 40)]
        assert dt.datetime.fromisoformat(catalog[0]["last_seen"]) == start + dt.timedelta(hours=39 * 1.5)
        properties = {one["name"]: one for one in api.catalog_properties("Signup")}
        assert properties["plan"]["types"] == ["String"] and properties["amount"]["types"] == ["Int64"]
        assert set(properties["plan"]["examples"]) <= {"free", "pro", "team"}
        assert [one["name"] for one in api.catalog_properties(kind="person")] == ["country"]


def test_saved_insights_round_trip_and_are_listed(api: AdminClient, sent: tuple[str, list[dict[str, Any]]]) -> None:
    event, _ = sent
    insight = {"key": "weekly-checkouts", "name": "Checkouts by plan",
               "query": {"series": [{"event": event, "math": "persons"}], "date_from": "2026-10-31",
                         "date_to": "2026-11-03", "breakdown": {"property": "plan"}}}
    first, second = api.save_insight(insight), api.save_insight({**insight, "name": "Checkouts per plan"})
    assert second["version"] == first["version"] + 1
    assert api.get_insight("weekly-checkouts")["name"] == "Checkouts per plan"
    assert "weekly-checkouts" in {one["key"] for one in api.list_insights()}


@pytest.mark.parametrize(("change", "field"), [
    ({"series": [{"event": "x", "math": "mode"}]}, "series[0].math"),
    ({"series": [{"event": "x", "filters": [{"property": "p", "operator": "like", "value": "a"}]}]},
     "series[0].filters[0].operator"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"date_from": "2026-11-05"}, "date_from"),
    ({"series": [{"event": "x"}] * 11}, "series"),
    ({"interval": "hour", "date_from": "2026-01-01"}, "date_to"),
    ({"series": [{"event": "x", "math": "wau"}], "interval": "week"}, "series[0].math"),
    ({"series": [{"event": "x", "math": "sum"}]}, "series[0].property"),
    ({"series": [{"event": "x", "filters": [{"property": "p", "operator": "in", "value": "a"}]}]},
     "series[0].filters[0].value"),
    ({"breakdown": {"property": "bad name"}}, "breakdown.property"),
])
def test_bad_queries_are_refused_naming_the_field(collector: CollectorProcess, change: dict[str, Any],
                                                  field: str) -> None:
    query = {"series": [{"event": "x"}], "date_from": "2026-11-01", "date_to": "2026-11-03", **change}
    answer = httpx.post(f"{collector.url}/v1/insights/trends", json=query,
                        headers={"Authorization": f"Bearer {collector.admin_secret}"})
    assert answer.status_code == 400 and answer.json()["field"] == field, answer.text


def test_insights_need_the_admin_secret(collector: CollectorProcess) -> None:
    answer = httpx.post(f"{collector.url}/v1/insights/trends", json={})
    assert answer.status_code == 401


def test_a_query_past_its_time_limit_is_cut_off_with_a_clear_error(tmp_path: Path) -> None:
    with CollectorProcess(tmp_path / "collector", extra_args=("--insights-max-seconds=0.000001",)) as collector:
        api = AdminClient(collector.url, collector.admin_secret)
        _send(collector, _messages("Slow"))
        api.wait_until_stored()
        with pytest.raises(ApiError) as refused:
            api.trends({"series": [{"event": "Slow", "math": "persons"}], "date_from": "2026-10-01",
                        "date_to": "2026-11-30"})
        assert "HTTP 503" in str(refused.value) and "time limit" in str(refused.value)
        answer = httpx.post(f"{collector.url}/v1/insights/trends", headers={"Authorization": f"Bearer {collector.admin_secret}"},
                            json={"series": [{"event": "Slow"}], "date_from": "2026-10-01", "date_to": "2026-11-30"})
        assert answer.status_code == 503 and int(answer.headers["Retry-After"]) > 0


def test_the_cli_prints_the_apis_numbers_as_a_table_and_as_json(
    collector: CollectorProcess, api: AdminClient, sent: tuple[str, list[dict[str, Any]]]
) -> None:
    from test_cli import fails, succeeds

    event, _ = sent
    flags = ["insights", "trends", event, "--math", "persons", "--from", "2026-10-31", "--to", "2026-11-03",
             "--timezone", "Europe/Berlin", "--breakdown", "plan"]
    expected = api.trends({"series": [{"event": event, "math": "persons"}], "date_from": "2026-10-31",
                           "date_to": "2026-11-03", "timezone": "Europe/Berlin", "breakdown": {"property": "plan"}})
    assert json.loads(succeeds(collector, *flags, "--json")) == expected
    table = succeeds(collector, *flags).splitlines()
    assert table[2].split() == ["interval", *(word for s in expected["series"] for word in f"{s['label']} (persons)".split())]
    rows = {line.split()[0]: line.split()[1:] for line in table[4:]}
    for index, date in enumerate(expected["series"][0]["dates"]):
        assert rows[date] == [f"{s['values'][index]:,.0f}" for s in expected["series"]]
    assert "series[0].math" in fails(collector, "insights", "trends", event, "--math", "mode")
    assert "--from/--to" in fails(collector, "insights", "trends", event, "--from", "yesterday")
