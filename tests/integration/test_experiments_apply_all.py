"""`python -m northstar experiments apply FILE`: the whole file or nothing, each change reported;
`--url` without a scheme, as the SDK takes it. Real collector, the CLI as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from loadtests.server_process import CollectorProcess


def _definition(key: str, **fields: Any) -> dict[str, Any]:
    return {"key": key, "conversion_event": "Order Completed",
            "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}], **fields}


def _experiments_cli(collector: CollectorProcess, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "northstar", "experiments", "--url", url or collector.url,
         "--secret", collector.admin_secret, *args],
        capture_output=True, text=True, timeout=60)


def _stored_keys(collector: CollectorProcess, prefix: str) -> list[str]:
    listed = httpx.get(collector.url + "/v1/experiments",
                       headers={"Authorization": f"Bearer {collector.admin_secret}"}).json()["experiments"]
    return sorted(e["key"] for e in listed if e["key"].startswith(prefix))


def test_a_file_the_server_refuses_in_part_changes_nothing(collector: CollectorProcess, tmp_path: Path) -> None:
    prefix = f"all-or-none-{uuid.uuid4().hex[:8]}"
    path = tmp_path / "experiments.json"
    # Valid alone, both: only the server knows the metric is missing, and that the layers overlap.
    path.write_text(json.dumps([_definition(f"{prefix}-good"), _definition(f"{prefix}-bad", metrics=["no-such"])]))
    result = _experiments_cli(collector, "apply", str(path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: PUT /v1/experiments: HTTP 400: experiments[1].metrics: no metric 'no-such': PUT /v1/metrics/{key} first"]
    layer = {"name": prefix, "start": 0.0, "end": 0.6}
    path.write_text(json.dumps([_definition(f"{prefix}-a", status="running", layer=layer),
                                _definition(f"{prefix}-b", status="running", layer={**layer, "start": 0.5, "end": 1})]))
    result = _experiments_cli(collector, "apply", str(path))
    assert result.returncode == 1 and "experiments[0].layer" in result.stderr and "overlaps" in result.stderr
    assert _stored_keys(collector, prefix) == []

    path.write_text(json.dumps([_definition(f"{prefix}-good"), _definition(f"{prefix}-other", status="running")]))
    assert _experiments_cli(collector, "apply", str(path)).stdout.split() == [
        "created", f"{prefix}-good", "v1", "draft", "created", f"{prefix}-other", "v1", "running"]
    path.write_text(json.dumps([_definition(f"{prefix}-good", name="renamed"), _definition(f"{prefix}-other", status="running")]))
    assert _experiments_cli(collector, "apply", str(path)).stdout.split() == [
        "updated", f"{prefix}-good", "v2", "draft", "unchanged", f"{prefix}-other", "v1", "running"]


def test_the_url_may_omit_its_scheme_as_the_sdk_allows(collector: CollectorProcess) -> None:
    result = _experiments_cli(collector, "list", url=f"127.0.0.1:{collector.port}")
    assert result.returncode == 0, result.stderr
