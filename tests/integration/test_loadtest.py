"""The load-test command end to end: a short locust run against its own collector loses nothing."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from loadtests.run import audit_stored
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient

REPOSITORY = Path(__file__).absolute().parents[2]


def _figure(summary: str, label: str) -> int:
    match = re.search(rf"^{label}\s*=?\s*([\d,]+)", summary, re.MULTILINE)
    assert match, f"no {label!r} line in:\n{summary}"
    return int(match.group(1).replace(",", ""))


def test_a_short_mixed_load_run_acknowledges_events_and_loses_none() -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "loadtests", "run", "--users", "4", "--spawn-rate", "4", "--duration", "5s"],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
    )

    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert _figure(finished.stdout, "lost") == 0
    assert _figure(finished.stdout, "duplicated") == 0
    assert _figure(finished.stdout, "acknowledged events") > 0


def test_the_audit_reports_an_acknowledged_id_the_store_does_not_hold(
    collector: CollectorProcess, api: AdminClient
) -> None:
    stored_id = f"loadtest-audit-{uuid.uuid4().hex}"
    never_sent = f"loadtest-audit-{uuid.uuid4().hex}"
    batch = {"batch": [{"type": "track", "event": "Audit Probe", "userId": "u", "messageId": stored_id}]}
    response = httpx.post(collector.url + "/v1/batch", json=batch, auth=(collector.write_key, ""), timeout=30)
    assert response.status_code == 200
    api.wait_until_stored()

    audit = audit_stored(api, [stored_id, never_sent])
    assert (audit.missing, audit.duplicated) == ([never_sent], [])
