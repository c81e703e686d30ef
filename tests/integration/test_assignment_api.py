"""Experiments over HTTP, as users drive them: lifecycle, SDK definitions with ETags, /v1/assign
answering the published vectors, and the SDK's exposures arriving in the store."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

import sdk
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient, ApiError
from northstar.cli import main as northstar_cli

EVALUATION = json.loads((Path(__file__).parents[1] / "vectors" / "assignment.json").read_text())["evaluation"]
AB = [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]


def _admin(collector: CollectorProcess) -> httpx.Client:
    return httpx.Client(base_url=collector.url, headers={"Authorization": f"Bearer {collector.admin_secret}"})


def _sdk_http(collector: CollectorProcess, key: str | None = None) -> httpx.Client:
    """HTTP Basic with `key` as the username: the write key unless given (the SDK key)."""
    return httpx.Client(base_url=collector.url, auth=(key or collector.write_key, ""))


def _definition(key: str, **fields: Any) -> dict[str, Any]:
    return {"key": key, "conversion_event": f"Converted {key}", "variants": AB, **fields}


@pytest.fixture(scope="module")
def vector_experiments(collector: CollectorProcess) -> None:
    """Every vector experiment stored on the server, in its vector status."""
    api = AdminClient(collector.url, collector.admin_secret)
    for definition in EVALUATION["experiments"]:
        status = definition.get("status", "draft")
        api.save_experiment({**definition, "conversion_event": "Vector Conversion",
                             "status": "running" if status == "stopped" else status})
        if status == "stopped":
            assert api.stop_experiment(definition["key"])["status"] == "stopped"


def test_assign_answers_the_published_vectors(collector: CollectorProcess, vector_experiments: None) -> None:
    running = {e["key"] for e in EVALUATION["experiments"] if e.get("status") == "running"}
    with _sdk_http(collector) as http:
        for case in EVALUATION["cases"]:
            answer = http.post("/v1/assign", json={"unit_id": case["unit_id"], "attributes": case["attributes"],
                                                   "anonymous_id": case.get("anonymous_id"),
                                                   "experiments": [case["experiment"]]})
            assert answer.status_code == 200, answer.text
            got = answer.json()["assignments"][case["experiment"]]
            if case["experiment"] in running:
                assert got == {k: case[k] for k in ("variant", "payload", "in_experiment", "reason")}, case
            else:  # as to an SDK, whose definitions hold running experiments only: drafts stay private
                assert got == {"variant": None, "payload": None, "in_experiment": False,
                               "reason": "unknown_experiment"}, case
        everything = http.post("/v1/assign", json={"unit_id": "user-1"}).json()["assignments"]
        assert "vec-basic" in everything and "vec-stopped" not in everything and "vec-draft" not in everything
        assert http.post("/v1/assign", json={"unit_id": "u", "experiments": ["nope"]}).json()["assignments"] == {
            "nope": {"variant": None, "payload": None, "in_experiment": False, "reason": "unknown_experiment"}}
        assert http.post("/v1/assign", json={"attributes": {}}).status_code == 400


def test_sdk_definitions_serve_running_experiments_with_an_etag(
    collector: CollectorProcess, vector_experiments: None
) -> None:
    with _sdk_http(collector, collector.sdk_key) as http:
        first = http.get("/v1/sdk/definitions")
        assert first.status_code == 200 and first.headers["etag"].startswith('"')
        keys = {e["key"] for e in first.json()["experiments"] if e["key"].startswith("vec-")}
        expected = {e["key"] for e in EVALUATION["experiments"] if e.get("status") == "running"}
        assert keys == expected
        again = http.get("/v1/sdk/definitions", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    assert httpx.get(f"{collector.url}/v1/sdk/definitions").status_code == 401
    assert httpx.get(f"{collector.url}/v1/sdk/definitions", auth=("wrong", "")).status_code == 401


def test_the_sdk_fetches_definitions_and_evaluates_like_the_vectors(
    collector: CollectorProcess, vector_experiments: None
) -> None:
    client = sdk.Client(collector.write_key, collector.url, sdk_key=collector.sdk_key)
    try:
        assert client.wait_for_definitions(10)
        running = {e["key"] for e in EVALUATION["experiments"] if e.get("status") == "running"}
        for case in (case for case in EVALUATION["cases"] if case["experiment"] in running):
            result = client.get_variant(case["experiment"], case["unit_id"], case["attributes"], log_exposure=False,
                                        anonymous_id=case.get("anonymous_id"))
            assert (result.variant, result.payload, result.reason) == (case["variant"], case["payload"], case["reason"])
    finally:
        client.shutdown(timeout=5)


def test_exposures_logged_by_get_variant_arrive_in_the_store(collector: CollectorProcess, api: AdminClient) -> None:
    key = f"exposed-{uuid.uuid4().hex[:8]}"
    api.save_experiment(_definition(key, status="running"))
    client = sdk.Client(collector.write_key, collector.url, sdk_key=collector.sdk_key)
    try:
        assert client.wait_for_definitions(10)
        units = [f"{key}-u{n}" for n in range(20)]
        assigned = {unit: client.get_variant(key, unit).variant for unit in units}
        for unit in units:  # repeated views are not logged again
            client.get_variant(key, unit)
        assert client.flush(10)
    finally:
        client.shutdown(timeout=5)
    api.wait_until_stored()
    for unit in units[:5]:
        stored = api.events(event="Experiment Viewed", user_id=unit)
        assert stored["total"] == 1, stored
        event = stored["events"][0]
        assert (event["experiment_id"], event["variation_id"]) == (key, assigned[unit])
        assert json.loads(event["properties"]) == {"experiment_id": key, "variation_id": assigned[unit]}


def test_lifecycle_phases_history_and_idempotent_saves(collector: CollectorProcess, api: AdminClient) -> None:
    key = f"life-{uuid.uuid4().hex[:8]}"
    created = api.save_experiment(_definition(key))
    assert (created["version"], created["changed"], created["status"]) == (1, True, "draft")
    assert api.save_experiment(_definition(key))["changed"] is False
    started = api.start_experiment(key)
    assert (started["status"], started["version"], started["phase"]) == ("running", 2, 1)
    reweighted = _definition(key, variants=[{"key": "control", "weight": 0.8}, {"key": "treatment", "weight": 0.2}])
    with _admin(collector) as admin:
        refused = admin.put(f"/v1/experiments/{key}", json=reweighted)
        assert refused.status_code == 400 and refused.json()["field"] == "variants"
        assert api.save_experiment(_definition(key, coverage=1.0, name="n"))["phase"] == 1
        phased = admin.put(f"/v1/experiments/{key}", params={"new_phase": "true"}, json=reweighted).json()
    assert (phased["phase"], phased["salt"], phased["status"]) == (2, f"{key}-phase2", "running")
    explicit = api.new_phase(key, salt="spring")
    assert (explicit["phase"], explicit["salt"]) == (3, "spring")
    assert api.new_phase(key)["salt"] == f"{key}-phase4"
    assert api.stop_experiment(key)["status"] == "stopped"
    history = api.experiment_history(key)
    assert [v["definition"]["status"] for v in history] == ["draft", "running", "running", "running", "running",
                                                            "running", "stopped"]
    assert history[-1]["definition"]["stopped_at"] and history[1]["definition"]["started_at"]
    with pytest.raises(ApiError, match="HTTP 404"):
        api.start_experiment("missing-key")
    with pytest.raises(ApiError, match="HTTP 404"):
        api.experiment_history("missing-key")


def test_lifecycle_and_metric_routes_need_the_admin_secret(collector: CollectorProcess) -> None:
    routes = [("POST", "/v1/experiments/any/start"), ("POST", "/v1/experiments/any/stop"),
              ("POST", "/v1/experiments/any/phases"), ("GET", "/v1/experiments/any/history"),
              ("PUT", "/v1/metrics/any"), ("GET", "/v1/metrics/any"), ("GET", "/v1/metrics")]
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            response = httpx.request(method, collector.url + path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers)


def test_overlapping_layer_ranges_cannot_run_together(collector: CollectorProcess, api: AdminClient) -> None:
    layer = f"layer-{uuid.uuid4().hex[:8]}"
    first, second = f"{layer}-a", f"{layer}-b"
    api.save_experiment(_definition(first, status="running", layer={"name": layer, "start": 0.0, "end": 0.6}))
    api.save_experiment(_definition(second, layer={"name": layer, "start": 0.5, "end": 1.0}))
    with _admin(collector) as admin:
        refused = admin.post(f"/v1/experiments/{second}/start")
        assert refused.status_code == 400 and refused.json()["field"] == "layer" and first in refused.json()["error"]
        narrowed = admin.put(f"/v1/experiments/{second}", json=_definition(
            second, status="running", layer={"name": layer, "start": 0.6, "end": 1.0}))
        assert narrowed.status_code == 200 and narrowed.json()["status"] == "running"
        unknown_metric = admin.put(f"/v1/experiments/{layer}-c", json=_definition(f"{layer}-c", metrics=["no-such"]))
        assert unknown_metric.status_code == 400 and unknown_metric.json()["field"] == "metrics"


def test_apply_a_file_twice_changes_nothing_the_second_time(
    collector: CollectorProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"apply-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "experiments.json"
    path.write_text(json.dumps({"experiments": [
        _definition(f"{prefix}-one", status="running", targeting={"attribute": "plan", "op": "equals", "value": "pro"}),
        _definition(f"{prefix}-two", hypothesis="a shorter form converts better"),
    ]}))
    arguments = ["experiments", "--url", collector.url, "--secret", collector.admin_secret]
    assert northstar_cli([*arguments, "apply", str(path)]) == 0
    assert capsys.readouterr().out.split() == ["created", f"{prefix}-one", "v1", "running",
                                               "created", f"{prefix}-two", "v1", "draft"]
    assert northstar_cli([*arguments, "apply", str(path)]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["unchanged", "unchanged"]
    path.write_text(json.dumps([_definition(f"{prefix}-bad", coverage=3)]))
    assert northstar_cli([*arguments, "apply", str(path)]) == 1
    assert "coverage" in capsys.readouterr().err
    assert northstar_cli([*arguments, "list"]) == 0
    assert f"{prefix}-one\trunning" in capsys.readouterr().out


def test_assign_can_log_exposures_once_per_unit(collector: CollectorProcess, api: AdminClient) -> None:
    key = f"assign-log-{uuid.uuid4().hex[:8]}"
    api.save_experiment(_definition(key, conversion_event="Bought", overrides={"qa-user": "treatment"}))
    api.start_experiment(key)
    with _sdk_http(collector) as client:
        for _ in range(3):  # a client asking on every page view
            answer = client.post("/v1/assign", json={"unit_id": "web-user-1", "experiments": [key],
                                                     "log_exposures": True}).json()
            assert answer["exposures_logged"] == 1
        variant = answer["assignments"][key]["variant"]
        override = client.post("/v1/assign", json={"unit_id": "qa-user", "experiments": [key],
                                                   "log_exposures": True}).json()
        assert override["exposures_logged"] == 0  # forced units are not exposures
        quiet = client.post("/v1/assign", json={"unit_id": "web-user-2", "experiments": [key]}).json()
        assert "exposures_logged" not in quiet
    api.wait_until_stored()

    exposures = api.events(event="Experiment Viewed", user_id="web-user-1")
    assert exposures["total"] == 1
    assert json.loads(exposures["events"][0]["properties"]) == {"experiment_id": key, "variation_id": variant}
    assert api.events(event="Experiment Viewed", user_id="qa-user")["total"] == 0
    assert api.events(event="Experiment Viewed", user_id="web-user-2")["total"] == 0
    units = {v["key"]: v["units"] for v in api.results(key)["variants"]}
    assert units[variant] == 1 and sum(units.values()) == 1
