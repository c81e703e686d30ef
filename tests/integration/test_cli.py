"""Every admin action of the API is a `python -m northstar` command: run as a user runs it (a
subprocess) against the real collector; failures are one line on stderr, exit code 1, and leave
nothing half-done."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient


def northstar(collector: CollectorProcess, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NORTHSTAR_URL": collector.url, "NORTHSTAR_ADMIN_SECRET": collector.admin_secret}
    return subprocess.run([sys.executable, "-m", "northstar", *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=60)


def succeeds(collector: CollectorProcess, *args: str) -> str:
    done = northstar(collector, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fails(collector: CollectorProcess, *args: str, stdin: str | None = None) -> str:
    """The one line a failing command writes on stderr (exit code 1, no traceback)."""
    done = northstar(collector, *args, stdin=stdin)
    assert done.returncode == 1, (done.stdout, done.stderr)
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ")
    return line


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_metrics_put_get_list_and_a_bad_file_stores_nothing(collector: CollectorProcess, tmp_path: Path) -> None:
    key = f"cli-metric-{uuid.uuid4().hex[:8]}"
    metric = {"key": key, "name": "Revenue", "kind": "mean", "event": "Order", "property": "revenue"}
    assert succeeds(collector, "metrics", "put", str(_write(tmp_path / "m.json", metric))).split() == [
        "saved", key, "v1"]
    assert json.loads(succeeds(collector, "metrics", "get", key))["property"] == "revenue"
    assert f"{key}\tmean\tOrder\tRevenue" in succeeds(collector, "metrics", "list").splitlines()

    broken = f"{key}-broken"
    line = fails(collector, "metrics", "put", str(_write(tmp_path / "b.json", {**metric, "key": broken, "kind": "sum"})))
    assert "b.json" in line and "kind" in line
    assert "HTTP 404" in fails(collector, "metrics", "get", broken)
    assert "No such file" in fails(collector, "metrics", "put", str(tmp_path / "missing.json"))


def test_an_experiment_through_its_whole_life(collector: CollectorProcess, tmp_path: Path) -> None:
    key = f"cli-exp-{uuid.uuid4().hex[:8]}"
    definition = {"key": key, "conversion_event": f"Order {key}",
                  "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]}
    path = _write(tmp_path / "e.json", definition)
    assert succeeds(collector, "experiments", "put", str(path)).split() == ["created", key, "v1", "draft"]
    assert succeeds(collector, "experiments", "put", str(path)).split()[0] == "unchanged"
    assert json.loads(succeeds(collector, "experiments", "get", key))["status"] == "draft"
    assert any(line.startswith(f"{key}\tdraft\t") for line in succeeds(collector, "experiments", "list").splitlines())

    assert succeeds(collector, "experiments", "start", key).split()[:4] == ["changed", key, "v2", "running"]
    phase = succeeds(collector, "experiments", "new-phase", key, "--salt", f"{key}-phase-2").split()
    assert phase[4:] == ["phase", "2", "salt", f"{key}-phase-2"]
    assert succeeds(collector, "experiments", "stop", key).split()[3] == "stopped"
    history = succeeds(collector, "experiments", "history", key).splitlines()
    assert [line.split("\t")[0] for line in history] == ["v1", "v2", "v3", "v4"]
    assert history[-1].endswith("\tstopped\tphase 2")

    assert succeeds(collector, "experiments", "results", key).startswith(f"Experiment {key} · fixed analysis")
    document = json.loads(succeeds(collector, "experiments", "results", key, "--json"))
    assert document["experiment"] == key and document["decision"] == "keep_running"


def test_refused_and_impossible_commands_are_one_line_and_change_nothing(
    collector: CollectorProcess, tmp_path: Path
) -> None:
    key = f"cli-refused-{uuid.uuid4().hex[:8]}"
    variants = [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]
    two = _write(tmp_path / "two.json", [{"key": f"{key}-{n}", "conversion_event": "Order", "variants": variants}
                                          for n in range(2)])
    assert "put takes one" in fails(collector, "experiments", "put", str(two))
    assert "HTTP 404" in fails(collector, "experiments", "get", f"{key}-0")  # neither was stored
    assert "HTTP 404: no experiment" in fails(collector, "experiments", "start", key)
    assert "HTTP 404" in fails(collector, "experiments", "results", key)
    (tmp_path / "x.json").write_text("{")
    assert "not valid JSON" in fails(collector, "experiments", "apply", str(tmp_path / "x.json"))
    assert "HTTP 401" in fails(collector, "status", "--secret", "wrong")
    assert "cannot reach" in fails(collector, "status", "--url", "http://127.0.0.1:9")


def test_status_latest_events_and_verify(collector: CollectorProcess, api: AdminClient) -> None:
    user = f"cli-user-{uuid.uuid4().hex[:8]}"
    stored = uuid.uuid4().hex
    httpx.post(collector.url + "/v1/batch", auth=(collector.write_key, ""), json={"batch": [
        {"type": "track", "event": "CLI Checked", "userId": user, "messageId": stored}]}).raise_for_status()
    api.wait_until_stored()
    assert json.loads(succeeds(collector, "status"))["backlog_records"] == 0
    latest = json.loads(succeeds(collector, "events", "latest", "--user-id", user, "--limit", "1"))
    assert latest["total"] == 1 and latest["events"][0]["message_id"] == stored

    assert json.loads(succeeds(collector, "events", "verify", stored))["missing"] == []
    missing = uuid.uuid4().hex
    assert fails(collector, "events", "verify", "--file", "-", stdin=f"{stored}\n{missing}\n") == (
        "error: 1 missing and 0 counted more than once of 2 message ids")
    assert "no message ids" in fails(collector, "events", "verify")
    assert "HTTP 400" in fails(collector, "events", "latest", "--limit", "5000")


@pytest.mark.parametrize("command", [[], ["experiments"], ["metrics"], ["events"], ["status"],
                                     ["experiments", "results"]])
def test_help_loads_no_server_or_statistics_code(command: list[str]) -> None:
    probe = (
        "import sys, contextlib, io, northstar.cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        f"    northstar.cli.main({[*command, '--help']!r})\n"
        "heavy = ('scipy', 'numpy', 'starlette', 'uvicorn', 'clickhouse_connect', 'chdb', 'msgspec', 'experiments')\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.split() == []


def test_persons_show_list_and_an_unknown_id(collector: CollectorProcess) -> None:
    tag = uuid.uuid4().hex[:8]
    batch = [{"type": "identify", "userId": f"cli-user-{tag}", "anonymousId": f"cli-anon-{tag}",
              "traits": {"cohort": tag}, "messageId": f"cli-{tag}"}]
    assert httpx.post(collector.url + "/v1/batch", json={"batch": batch}, auth=(collector.write_key, "")).is_success
    AdminClient(collector.url, collector.admin_secret).wait_until_stored()
    person = json.loads(succeeds(collector, "persons", "show", f"cli-anon-{tag}"))
    assert person["distinct_ids"] == [f"cli-anon-{tag}", f"cli-user-{tag}"] and person["properties"] == {"cohort": tag}
    (listed,) = json.loads(succeeds(collector, "persons", "list", "--property", "cohort", "--value", tag))
    assert listed["person_id"] == person["person_id"]
    assert "HTTP 404" in fails(collector, "persons", "show", f"nobody-{tag}")
