"""Operator mistakes and what an unauthenticated caller may learn: one clear line, a non-zero
exit, nothing half-done; no password or server address shown. Real `python -m northstar`
processes."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from loadtests.server_process import CollectorProcess
from northstar.ports import free_port


def _northstar(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "northstar", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The refusal: a non-zero exit and exactly one line on stderr, no traceback."""
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_ready_and_the_log_name_no_server_address_or_password(tmp_path: Path) -> None:
    unreachable = free_port()
    dsn = f"http://northstar:hunter2@127.0.0.1:{unreachable}/analytics"
    with CollectorProcess(tmp_path / "collector", extra_args=(f"--clickhouse-dsn={dsn}",)) as collector:
        response = httpx.get(collector.url + "/ready")
        log = collector.log()
    assert response.status_code == 503
    problems = " ".join(response.json()["problems"])
    assert "ClickHouse unreachable" in problems
    assert str(unreachable) not in problems and "127.0.0.1" not in problems, problems
    assert "hunter2" not in log, log
    assert f"northstar:***@127.0.0.1:{unreachable}/analytics" in log  # the store named, redacted
    assert "readiness: ClickHouse unreachable" in log  # the operator still sees the detail
