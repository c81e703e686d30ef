"""Experiment definitions and results over HTTP: counts attributed from first exposure."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from statsmodels.stats.proportion import proportions_ztest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient, ApiError

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _event(user: str, name: str, at: datetime, **properties: object) -> dict:
    return {"type": "track", "event": name, "userId": user, "timestamp": at.isoformat(),
            "properties": properties, "messageId": uuid.uuid4().hex}


def _exposure(key: str, user: str, variant: str, at: datetime) -> dict:
    return _event(user, "Experiment Viewed", at, experiment_id=key, variation_id=variant)


def test_results_count_conversions_after_first_exposure_within_the_window(
    collector: CollectorProcess, api: AdminClient
) -> None:
    key = f"exp-{uuid.uuid4().hex[:8]}"
    conversion = f"Converted {key}"
    api.save_experiment({
        "key": key, "conversion_event": conversion, "conversion_window_hours": 24,
        "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
    })
    events: list[dict] = []
    expected = {"control": [0, 0], "treatment": [0, 0]}
    for n in range(400):
        variant = "control" if n % 2 else "treatment"
        user = f"{key}-u{n}"
        exposed = START + timedelta(minutes=n)
        events.append(_exposure(key, user, variant, exposed))
        events.append(_exposure(key, user, variant, exposed + timedelta(hours=1)))  # repeat view
        expected[variant][0] += 1
        if n % 5 == 0:  # converts 2 h after exposure: counts
            events.append(_event(user, conversion, exposed + timedelta(hours=2)))
            events.append(_event(user, conversion, exposed + timedelta(hours=3)))  # counted once
            expected[variant][1] += 1
        elif n % 7 == 0:  # converted before the exposure: does not count
            events.append(_event(user, conversion, exposed - timedelta(hours=1)))
        elif n % 11 == 0:  # converted after the 24 h window: does not count
            events.append(_event(user, conversion, exposed + timedelta(hours=30)))
        elif variant == "treatment" and n % 3 == 0:
            events.append(_event(user, conversion, exposed + timedelta(minutes=5)))
            expected[variant][1] += 1
    for n in range(7):  # seen in both variants: excluded and reported
        user = f"{key}-both{n}"
        events.append(_exposure(key, user, "control", START))
        events.append(_exposure(key, user, "treatment", START + timedelta(minutes=1)))
        events.append(_event(user, conversion, START + timedelta(minutes=2)))
    for start in range(0, len(events), 300):
        response = httpx.post(collector.url + "/v1/import", json={"batch": events[start:start + 300]},
                              auth=(collector.write_key, ""))
        assert response.json()["accepted"] == len(events[start:start + 300])
    api.wait_until_stored()

    result = api.results(key)

    (metric,) = result["metrics"]
    observed = {v["key"]: [v["units"], v["total"]] for v in metric["variants"]}
    assert observed == expected
    assert result["multiple_exposures"] == 7
    (comparison,) = metric["comparisons"]
    (nc, cc), (nt, ct) = expected["control"], expected["treatment"]
    statistic, p_value = proportions_ztest([ct, cc], [nt, nc])
    assert comparison["p_value"] == pytest.approx(p_value, rel=1e-9)
    assert comparison["absolute_effect"] == pytest.approx(ct / nt - cc / nc, rel=1e-12)
    low, high = comparison["absolute_ci"]
    assert low < comparison["absolute_effect"] < high
    assert comparison["significant"] == (p_value < 0.05)


def test_results_count_only_exposures_of_the_current_phase(collector: CollectorProcess, api: AdminClient) -> None:
    key = f"phase-{uuid.uuid4().hex[:8]}"
    conversion = f"Converted {key}"
    api.save_experiment({"key": key, "conversion_event": conversion,
                         "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]})
    api.start_experiment(key)
    assert api.new_phase(key)["phase"] == 2
    phase_start = datetime.fromisoformat(api.experiment_history(key)[-1]["definition"]["phase_started_at"])
    before, at = phase_start - timedelta(hours=1), phase_start + timedelta(milliseconds=1)
    events: list[dict] = []
    for n in range(30):  # phase 1 only: an old assignment, not counted
        events += [_exposure(key, f"{key}-old{n}", "treatment", before),
                   _event(f"{key}-old{n}", conversion, before + timedelta(minutes=5))]
    for n in range(10):  # re-exposed in phase 2 under the new salt: counted there, not as a switch
        events += [_exposure(key, f"{key}-both{n}", "control", before),
                   _exposure(key, f"{key}-both{n}", "treatment", at if n else phase_start)]
    for n in range(20):
        events.append(_exposure(key, f"{key}-new{n}", ("control", "treatment")[n % 2], at + timedelta(seconds=n)))
    events.append(_event(f"{key}-new0", conversion, at + timedelta(hours=1)))
    response = httpx.post(collector.url + "/v1/batch", json={"batch": events}, auth=(collector.write_key, ""))
    assert response.json()["accepted"] == len(events)
    api.wait_until_stored()

    result = api.results(key)

    assert {v["key"]: v["units"] for v in result["variants"]} == {"control": 10, "treatment": 20}
    assert result["multiple_exposures"] == 0
    (metric,) = result["metrics"]
    assert {v["key"]: v["total"] for v in metric["variants"]} == {"control": 1, "treatment": 0}


def test_results_need_the_admin_secret_and_a_known_experiment(collector: CollectorProcess) -> None:
    assert httpx.get(collector.url + "/v1/experiments/anything/results").status_code == 401
    wrong = AdminClient(collector.url, "wrong-secret")
    with pytest.raises(ApiError, match="401"):
        wrong.results("anything")
    with pytest.raises(ApiError, match="404"):
        AdminClient(collector.url, collector.admin_secret).results("no-such-experiment")


def test_invalid_definition_is_refused_naming_the_field(api: AdminClient) -> None:
    with pytest.raises(ApiError, match="variants: weights must sum to 1"):
        api.save_experiment({"key": "bad-weights", "conversion_event": "X",
                             "variants": [{"key": "a", "weight": 0.7}, {"key": "b", "weight": 0.7}]})


def test_cli_prints_a_table_or_json_and_one_line_errors(collector: CollectorProcess, api: AdminClient) -> None:
    key = f"cli-{uuid.uuid4().hex[:8]}"
    api.save_experiment({"key": key, "conversion_event": "Bought",
                         "variants": [{"key": "a", "weight": 0.5}, {"key": "b", "weight": 0.5}]})
    base = [sys.executable, "-m", "northstar", "experiments", "--url", collector.url, "--secret", collector.admin_secret]

    table = subprocess.run([*base, "results", key], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert f"Experiment {key}" in table.stdout and "Decision: Keep running" in table.stdout

    as_json = subprocess.run([*base, "results", key, "--json"], capture_output=True, text=True, timeout=60)
    assert '"experiment": "' + key + '"' in as_json.stdout

    missing = subprocess.run([*base, "results", "nope"], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0 and "404" in missing.stderr

    unreachable = subprocess.run(
        [sys.executable, "-m", "northstar", "experiments", "--url", "http://127.0.0.1:9", "--secret", "x", "results", key],
        capture_output=True, text=True, timeout=60,
    )
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
