"""The decision rule through the API and the CLI, on exposures stored before the experiment started."""

from __future__ import annotations

import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient, ApiError

START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def _track(user: str, name: str, at: datetime, **properties: object) -> dict:
    return {"type": "track", "event": name, "userId": user, "timestamp": at.isoformat(),
            "properties": properties, "messageId": uuid.uuid4().hex}


def _definition(key: str, **changes: object) -> dict:
    return {
        "key": key, "name": "Backfilled checkout", "conversion_event": f"Bought {key}",
        "owner": "pm@example.com", "hypothesis": "A bigger button sells more",
        "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
        "decision": {"planned_units_per_variant": 300, "min_runtime_days": 7}, **changes,
    }


def test_an_imported_history_is_analysed_from_its_phase_start_and_decided(
    collector: CollectorProcess, api: AdminClient
) -> None:
    key = f"decide-{uuid.uuid4().hex[:8]}"
    api.save_experiment(_definition(key))
    events = []
    for n in range(600):  # 300 per arm over ten days, stored before the experiment starts
        variant, user = ("control", "treatment")[n % 2], f"{key}-u{n}"
        exposed = START + timedelta(minutes=24 * n)
        events.append(_track(user, "Experiment Viewed", exposed, experiment_id=key, variation_id=variant))
        if n % 10 < (2 if variant == "control" else 6):
            events.append(_track(user, f"Bought {key}", exposed + timedelta(minutes=10)))
    for first in range(0, len(events), 400):
        answer = httpx.post(collector.url + "/v1/import", json={"batch": events[first:first + 400]},
                            auth=(collector.write_key, ""))
        assert answer.json()["accepted"] == len(events[first:first + 400])
    api.wait_until_stored()
    base = [sys.executable, "-m", "northstar", "experiments", "--url", collector.url, "--secret", collector.admin_secret]

    future = subprocess.run([*base, "start", key, "--from", "2999-01-01T00:00:00Z"], capture_output=True, text=True,
                            timeout=60)
    assert future.returncode == 1 and "phase_started_at: must not be in the future" in future.stderr
    assert future.stderr.strip().count("\n") == 0
    started = subprocess.run([*base, "start", key, "--from", START.isoformat()], capture_output=True, text=True,
                             timeout=60)
    assert started.returncode == 0, started.stderr

    result = api.results(key)
    assert {v["key"]: v["units"] for v in result["variants"]} == {"control": 300, "treatment": 300}
    assert (result["status"], result["owner"], result["hypothesis"]) == ("running", "pm@example.com",
                                                                          "A bigger button sells more")
    assert datetime.fromisoformat(result["phase_started_at"]) == START
    assert result["plan"]["planned_units_per_variant"] == 300 and result["plan"]["progress"] == 1.0
    assert result["plan"]["runtime_days"] > 7
    assert result["decision"] == "ship"
    assert result["reason"].startswith("treatment beats control on conversion: Bought")
    assert result["verdict"] == "Ship: " + result["reason"]
    comparison = result["metrics"][0]["comparisons"][0]
    assert comparison["statistic"] > 0 and comparison["df"] is None and comparison["standard_error"] > 0

    table = subprocess.run([*base, "results", key], capture_output=True, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[1] == "Decision: " + result["verdict"]
    assert "Planned sample: 100% of 300 units per variant" in table.stdout


def test_a_decision_rule_that_cannot_apply_is_refused_naming_the_field(api: AdminClient) -> None:
    key = f"bad-rule-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ApiError, match=r"400: decision\.metrics\.conversion\.margin: only guardrails"):
        api.save_experiment(_definition(key, decision={"metrics": {"conversion": {"margin": 0.02}}}))
    with pytest.raises(ApiError, match=r"400: .*alternative"):
        api.save_experiment(_definition(key, decision={"metrics": {"conversion": {"alternative": "larger"}}}))
