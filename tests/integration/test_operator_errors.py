"""Operator mistakes and what an unauthenticated caller may learn: one clear line, a non-zero
exit, nothing half-done; no password or server address shown. Real `python -m northstar`
processes."""

from __future__ import annotations

import os
import re
import signal
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


def _serve(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _northstar("serve", "--data-dir", str(data_dir), *args)


def test_an_out_of_range_port_is_refused(tmp_path: Path) -> None:
    line = _one_line_error(_serve(tmp_path / "data", "--port", "99999"))
    assert "99999 is out of range" in line
    assert not (tmp_path / "data").exists()


def test_the_server_says_where_it_listens(collector: CollectorProcess) -> None:
    assert f"listening on {collector.url}" in collector.log()


def test_a_port_in_use_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve(tmp_path / "data", "--port", str(port))
    line = _one_line_error(result)
    assert f"cannot listen on 127.0.0.1:{port}" in line and "in use" in line
    assert "collector ready" not in result.stdout + result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(("dsn", "says"), [
    ("foo://bar", "unknown scheme 'foo'"),
    ("chdb://relative/path", "needs an absolute path"),
])
def test_an_unusable_clickhouse_dsn_is_refused_at_start(tmp_path: Path, dsn: str, says: str) -> None:
    line = _one_line_error(_serve(tmp_path / "data", "--port", "0", f"--clickhouse-dsn={dsn}"))
    assert says in line
    assert not (tmp_path / "data").exists()


def test_a_bad_value_in_the_environment_is_reported_like_a_bad_flag(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "northstar", "serve", "--data-dir", str(tmp_path / "d")],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "NORTHSTAR_PORT": "http"})
    assert result.returncode == 2
    assert "argument --port: 'http' is not a port number" in result.stderr


def test_serve_help_lists_every_flag_with_its_environment_variable_and_default() -> None:
    result = _northstar("serve", "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.partition("options:")[2].split())
    flags = re.findall(r"^  (--[a-z-]+)", result.stdout, re.MULTILINE)
    assert len(flags) >= 15
    for flag in flags:
        described = text.partition(flag)[2].partition(" --")[0]
        assert "default" in described, flag
    for variable in ("NORTHSTAR_LISTEN_HOST", "NORTHSTAR_PORT", "NORTHSTAR_DATA_DIR", "NORTHSTAR_CLICKHOUSE_DSN",
                     "NORTHSTAR_WRITE_KEYS", "NORTHSTAR_ADMIN_SECRET", "NORTHSTAR_HEAD_TIMEOUT"):
        assert variable in text
    assert "NORTHSTAR_HOST " not in text  # the SDK's collector URL, not the interface to listen on


def test_demo_users_must_be_a_whole_number() -> None:
    line = _one_line_error(_northstar("demo", "--users", "abc"))
    assert line == "error: python -m northstar demo: argument --users: 'abc' is not a whole number (see --help)"


def test_demo_keep_prints_the_dashboard_link_and_cleans_up_after_ctrl_c() -> None:
    demo = subprocess.Popen([sys.executable, "-m", "northstar", "demo", "--users", "50", "--keep"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.append(line)
            if line.startswith("Dashboard: "):
                break
        data_dir = Path(re.search(r"embedded ClickHouse \(chDB\) in (\S+)", "".join(lines)).group(1))
        dashboard = lines[-1].removeprefix("Dashboard: ").strip()
        assert "/dashboard?token=" in dashboard
        page = httpx.get(dashboard, follow_redirects=True)
        assert page.status_code == 200 and "checkout-button" in page.text
        assert data_dir.is_dir()
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0, demo.stderr.read() if demo.stderr else ""
        assert not data_dir.exists()
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
