"""A targeting regex cannot stall the server: a backtracking pattern is refused on save, and one
stored before that rule existed is not evaluated. Real collector, real chDB."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from loadtests.server_process import CollectorProcess

_BOMB = "(a+)+$"
_ATTRIBUTE = "a" * 26 + "!"  # 27 bytes: 4 s of backtracking on the event loop, before the rule


def _definition(key: str) -> dict[str, object]:
    return {"key": key, "conversion_event": "Order Completed", "status": "running",
            "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
            "targeting": {"attribute": "email", "op": "regex", "value": _BOMB}}


def test_a_backtracking_pattern_is_refused_on_save(collector: CollectorProcess) -> None:
    response = httpx.put(f"{collector.url}/v1/experiments/regex-bomb", json=_definition("regex-bomb"),
                         headers={"Authorization": f"Bearer {collector.admin_secret}"})
    assert response.status_code == 400
    assert response.json()["field"] == "targeting.value"
    assert "nests a quantifier" in response.json()["error"]


def test_assign_refuses_attributes_longer_than_a_regex_searches(collector: CollectorProcess) -> None:
    response = httpx.post(f"{collector.url}/v1/assign", auth=(collector.write_key, ""),
                          json={"unit_id": "u", "attributes": {"email": "a" * 1025}})
    assert response.status_code == 400
    assert response.json()["field"] == "attributes.email"


def _store_directly(data_dir: Path, key: str) -> None:
    """Save `key` through the definition store, as a version from before the rule would be."""
    script = (
        "import sys; from collector.storage import connect; "
        "from collector.storage.documents import DefinitionStore; "
        "from collector.settings import default_clickhouse_dsn; from pathlib import Path; "
        "DefinitionStore(lambda: connect(default_clickhouse_dsn(Path(sys.argv[1])))).save(sys.argv[2], sys.argv[3])"
    )
    subprocess.run([sys.executable, "-c", script, str(data_dir), key, json.dumps(_definition(key))],
                   check=True, timeout=120)


def test_a_pattern_stored_before_the_rule_cannot_stall_health(fresh_collector: CollectorProcess) -> None:
    fresh_collector.start()  # creates the schema
    fresh_collector.stop()
    _store_directly(fresh_collector.data_dir, "old-regex-bomb")
    fresh_collector.start()
    url, key = fresh_collector.url, fresh_collector.write_key

    listed = httpx.get(f"{url}/v1/experiments", headers={"Authorization": f"Bearer {fresh_collector.admin_secret}"})
    assert listed.status_code == 200 and [e["key"] for e in listed.json()["experiments"]] == ["old-regex-bomb"]
    health_seconds: list[float] = []
    assigned: list[httpx.Response] = []

    def assign() -> None:
        assigned.append(httpx.post(f"{url}/v1/assign", auth=(key, ""), timeout=30,
                                   json={"unit_id": "u-1", "attributes": {"email": _ATTRIBUTE}}))

    worker = threading.Thread(target=assign)
    worker.start()
    while worker.is_alive() or not health_seconds:
        started = time.monotonic()
        assert httpx.get(f"{url}/health", timeout=30).status_code == 200
        health_seconds.append(time.monotonic() - started)
    worker.join()
    assert assigned[0].status_code == 200
    assert assigned[0].json()["assignments"] == {}  # not served: it is not evaluated at all
    assert max(health_seconds) < 1.0, health_seconds
    assert "not served to SDKs" in fresh_collector.log()
