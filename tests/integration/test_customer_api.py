"""Customer insight over HTTP on a real collector: events and survey responses (sent by the SDK)
through the ingestion API; cohorts (rules, CSV upload, members, export), lifecycle, stickiness,
paths, NPS and targets equal the references; bad input names the field; unknown keys are 404."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import httpx
import pytest

import sdk
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient, ApiError
from tests.reference import cohorts as cohorts_reference
from tests.reference import lifecycle as lifecycle_reference
from tests.reference import paths as paths_reference
from tests.reference import surveys as surveys_reference

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
DAYS = {"date_from": (NOW.date() - dt.timedelta(days=6)).isoformat(), "date_to": NOW.date().isoformat()}


@pytest.fixture(scope="module")
def sent(collector: CollectorProcess) -> tuple[str, list[dict[str, Any]]]:
    tag = uuid.uuid4().hex[:6]
    messages: list[dict[str, Any]] = []
    for n in range(12):
        user = f"{tag}-c{n}"
        for day in range(n % 4 + 1):
            at = NOW - dt.timedelta(days=day, hours=2)
            for step, event in enumerate(["Open", "Search", "Checkout"][: 1 + (n + day) % 3]):
                messages.append({"type": "track", "event": f"{tag} {event}", "userId": user,
                                 "messageId": str(uuid.uuid4()), "timestamp": at + dt.timedelta(minutes=step * 3),
                                 "properties": {"plan": "pro" if n % 2 else "free"}})
        messages.append({"type": "identify", "userId": user, "messageId": str(uuid.uuid4()),
                         "timestamp": NOW - dt.timedelta(days=7), "traits": {"country": "DE" if n % 3 else "US"}})
    batch = [{**m, "timestamp": m["timestamp"].isoformat()} for m in messages]
    answer = httpx.post(f"{collector.url}/v1/import", json={"batch": batch}, auth=(collector.write_key, ""))
    assert answer.status_code == 200, answer.text
    client = sdk.Client(collector.write_key, host=collector.url)
    for n, score in enumerate([10, 10, 9, 7, 0]):
        client.survey_response(f"{tag}-c{n}", f"nps-{tag}", score=score, answer="love it" if score > 8 else None,
                               question="How likely are you to recommend us?", timestamp=NOW - dt.timedelta(hours=1))
        messages.append({"type": "track", "event": "Survey Responded", "userId": f"{tag}-c{n}", "messageId": f"s{n}",
                         "timestamp": NOW - dt.timedelta(hours=1),
                         "properties": {"survey": f"nps-{tag}", "score": score}})
    client.shutdown()
    AdminClient(collector.url, collector.admin_secret).wait_until_stored()
    return tag, messages


def test_nps_over_http_from_the_sdk(api: AdminClient, sent: tuple[str, list[dict[str, Any]]]) -> None:
    tag, messages = sent
    api.save_survey({"key": f"nps-{tag}", "question": "How likely are you to recommend us?", "kind": "nps"})
    query = {"survey": f"nps-{tag}", **DAYS, "interval": "day", "breakdown": {"property": "country", "type": "person"}}
    answer = api.insight("nps", query)
    assert (answer["total"]["nps"], round(answer["total"]["nps_margin"])) == (pytest.approx(40), 70)
    expected = surveys_reference.nps(messages, query)
    assert answer["breakdowns"] == [{**b, "summary": pytest.approx(b["summary"])} for b in expected["breakdowns"]]
    assert sorted(a["answer"] for a in answer["answers"]) == ["love it"] * 3


def test_cohorts_lifecycle_stickiness_and_paths_over_http(api: AdminClient, sent: tuple[str, list[dict[str, Any]]],
                                                          collector: CollectorProcess) -> None:
    tag, messages = sent
    cohort = {"key": f"searchers-{tag}", "name": "Searched twice",
              "rules": [{"type": "behavior", "event": f"{tag} Search", "operator": "at_least", "count": 2, "within_days": 7},
                        {"type": "person", "property": "country", "value": "DE"}]}
    assert api.save_cohort(cohort)["version"] == 1
    expected = cohorts_reference.members(messages, cohort, {}, dt.datetime.now(dt.timezone.utc))
    detail = api.get_cohort(cohort["key"], days=3)
    assert detail["persons"] == len(expected) > 0 and len(detail["sizes"]) == 3
    assert detail["sizes"][-1]["persons"] == len(expected)
    api.upload_cohort(f"vips-{tag}", f"id\n{tag}-c1\n{tag}-c2\n")
    page = api.cohort_persons(f"vips-{tag}", limit=1)
    assert (page["total"], len(page["persons"]), page["next_offset"]) == (2, 1, 1)
    exported = httpx.get(f"{collector.url}/v1/cohorts/vips-{tag}/persons.csv",
                         headers={"Authorization": f"Bearer {collector.admin_secret}"})
    assert exported.headers["content-type"].startswith("text/csv") and len(exported.text.splitlines()) == 3
    assert {c["key"] for c in api.list_cohorts()} >= {cohort["key"], f"vips-{tag}"}

    query = {"event": f"{tag} Open", **DAYS, "filters": [{"type": "cohort", "key": cohort["key"]}]}
    members = {cohort["key"]: expected}
    assert api.insight("lifecycle", query)["points"] == [
        {**p, "churn_rate": pytest.approx(p["churn_rate"])} for p in lifecycle_reference.lifecycle(messages, query, cohort_members=members)]
    sticky = api.insight("stickiness", query)
    assert {"exactly": sticky["exactly"], "at_least": sticky["at_least"]} == \
        lifecycle_reference.stickiness(messages, query, cohort_members=members)

    journey = {**DAYS, "start_event": f"{tag} Open", "steps": 3,
               "include_events": [f"{tag} Open", f"{tag} Search", f"{tag} Checkout"]}
    edges = api.insight("paths", journey)["edges"]
    assert edges == [{**e, "mean_seconds": pytest.approx(e["mean_seconds"])} for e in paths_reference.paths(messages, journey)]
    persons = api.insight("paths/persons", {**journey, "node": f"3_{tag} Checkout"})
    assert persons["total"] == len(paths_reference.node_persons(messages, {**journey, "node": f"3_{tag} Checkout"})) > 0


def test_targets_are_stored_settings(api: AdminClient) -> None:
    targets = [{"metric": "nps", "direction": "at_least", "value": 70, "label": ""},
               {"metric": "churn_rate", "direction": "at_most", "value": 0.05, "label": "churn ≤ 5%"}]
    api.save_targets(targets)
    assert api.targets() == targets


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/v1/insights/lifecycle", {"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_from"),
    ("/v1/insights/paths", {"date_from": "2026-05-01", "date_to": "2026-05-01", "steps": 50}, "steps"),
    ("/v1/insights/nps", {"survey": "s", "date_from": "2026-05-01", "date_to": "2026-05-01",
                          "filters": [{"type": "cohort", "key": "no-such-cohort"}]}, None),
    ("/v1/insights/stickiness", {"date_from": "2026-05-01", "date_to": "2026-05-01", "timezone": "Mars/Base"}, "timezone"),
    ("/v1/settings/targets", {"targets": [{"metric": "NPS!", "value": 1}]}, "targets[0].metric"),
])
def test_bad_input_is_refused_naming_the_field(collector: CollectorProcess, path: str, body: dict[str, Any],
                                               field: str | None) -> None:
    method = "PUT" if path.startswith("/v1/settings") else "POST"
    answer = httpx.request(method, f"{collector.url}{path}", json=body,
                           headers={"Authorization": f"Bearer {collector.admin_secret}"})
    if field is None:
        assert answer.status_code == 404 and "cohort" in answer.json()["error"]
    else:
        assert answer.status_code == 400 and answer.json()["field"] == field, answer.text


def test_unknown_cohorts_and_surveys_are_not_found(api: AdminClient) -> None:
    for call in (lambda: api.get_cohort("never-defined"), lambda: api.cohort_persons("never-defined")):
        with pytest.raises(ApiError, match="HTTP 404"):
            call()


def test_the_cli_prints_the_apis_numbers(api: AdminClient, sent: tuple[str, list[dict[str, Any]]],
                                         collector: CollectorProcess, tmp_path: Any) -> None:
    from test_cli import northstar

    tag, _ = sent
    days = ["--from", DAYS["date_from"], "--to", DAYS["date_to"]]
    table = northstar(collector, "insights", "lifecycle", f"{tag} Open", *days)
    assert table.returncode == 0, table.stderr
    points = api.insight("lifecycle", {"event": f"{tag} Open", **DAYS})["points"]
    last = table.stdout.splitlines()[-1].split()
    assert last[:6] == [points[-1]["date"], *(str(points[-1][k]) for k in ("new", "returning", "resurrecting",
                                                                           "dormant", "active"))]
    score = northstar(collector, "insights", "nps", f"nps-{tag}", *days)
    assert score.returncode == 0 and "+40 ± 70" in score.stdout, score.stdout + score.stderr
    ids = tmp_path / "ids.csv"
    ids.write_text(f"id\n{tag}-c3\n")
    assert northstar(collector, "insights", "cohort-upload", f"cli-{tag}", str(ids)).returncode == 0
    shown = northstar(collector, "insights", "cohorts", f"cli-{tag}", "--days", "1")
    assert "persons now: 1" in shown.stdout, shown.stdout + shown.stderr
    paths = northstar(collector, "insights", "paths", "--start", f"{tag} Open", *days, "--json")
    assert json.loads(paths.stdout)["edges"] == api.insight("paths", {**DAYS, "start_event": f"{tag} Open"})["edges"]
    bad = northstar(collector, "insights", "paths", "--steps", "99", *days)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "steps" in bad.stderr
