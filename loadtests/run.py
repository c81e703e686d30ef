"""One bounded load run that proves zero loss: locust against a collector, then a full audit.

The run starts a collector of its own unless given `--host`, defines the demo experiment,
runs `loadtests/locustfile.py` headless in a subprocess with a hard timeout, waits for the
collector's log to drain into ClickHouse, and asks the collector whether every message id it
acknowledged is stored, and stored once. Locust's own figures (rates, latency percentiles,
failures) come from its `--csv` files.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from loadtests.acks import ACK_DIR_ENV, read_acknowledged
from loadtests.locust_stats import EndpointStats, Failure, read_failures, read_stats
from loadtests.traffic import CONVERSION_EVENT, DEFINITIONS_PATH, VARIANTS
from northstar.admin_client import AdminClient, ApiError

__all__ = ["Audit", "LoadOptions", "LoadReport", "LoadRunError", "audit_stored", "format_report", "run_load"]

Scenario = Literal["ingest", "mixed"]
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
EXPERIMENT_KEY = "loadtest-checkout"
_LOCUST_GRACE_SECONDS = 60  # start-up, spawning and writing the CSV files


class LoadRunError(RuntimeError):
    """The run could not be carried out (bad target, locust failed); one line for a person."""


@dataclass(frozen=True)
class LoadOptions:
    """One load run: locust users and spawn rate, duration, scenario, and the collector (None: one started here)."""

    users: int
    spawn_rate: float
    duration_seconds: int
    scenario: Scenario = "mixed"
    host: str | None = None
    write_key: str | None = None
    admin_secret: str | None = None
    sdk_key: str | None = None
    """With `host`: the SDK key the simulated apps poll definitions with (without one they do not poll)."""
    max_wait_seconds: float = 0.2
    drain_timeout_seconds: float = 120.0
    log_budget_mb: int | None = None
    """For a collector the run starts: its write-ahead log's disk budget (small → 503s)."""


@dataclass(frozen=True)
class Audit:
    """The store's answer for every acknowledged id: none missing, none counted twice."""

    missing: list[str]
    duplicated: list[str]
    extra_copies: int
    """Physical rows beyond the first (resends not yet merged away); queries count them once."""


@dataclass(frozen=True)
class LoadReport:
    """What a run measured and the verdict on it: every acknowledged event stored exactly once."""

    options: LoadOptions
    target: str
    endpoints: list[EndpointStats]
    failures: list[Failure]
    acknowledged: int
    audit: Audit
    collector_status: dict[str, Any]
    run_dir: Path

    @property
    def total(self) -> EndpointStats:
        return self.endpoints[-1]

    @property
    def drained(self) -> bool:
        return self.collector_status["backlog_records"] == 0

    @property
    def problems(self) -> list[str]:
        """Why the run proves nothing or found a fault; empty when it passed."""
        problems = []
        if not self.drained:
            problems.append(f"backlog not drained after {self.options.drain_timeout_seconds:g} s")
        if self.acknowledged == 0:
            problems.append("no event was acknowledged")
        if self.audit.missing:
            problems.append(f"{len(self.audit.missing):,} acknowledged events missing")
        if self.audit.duplicated:
            problems.append(f"{len(self.audit.duplicated):,} events counted twice")
        return problems


def run_load(options: LoadOptions) -> LoadReport:
    """Run, drain, verify. The run directory is kept (and named) when the run did not pass."""
    remote = _remote_target(options) if options.host else None
    run_dir = Path(tempfile.mkdtemp(prefix="northstar-load-"))
    try:
        with nullcontext(remote) if remote else _local_collector(options, run_dir) as target:
            admin = AdminClient(target.url, target.admin_secret)
            admin.save_experiment(_demo_experiment())
            _run_locust(options, target, run_dir)
            status = admin.wait_until_stored(options.drain_timeout_seconds)
            acknowledged = sorted(read_acknowledged(run_dir / "acks"))
            audit = audit_stored(admin, acknowledged)
    except ApiError as error:
        raise LoadRunError(f"{error} (evidence kept in {run_dir})") from None
    prefix = run_dir / "locust"
    report = LoadReport(
        options, target.url, read_stats(prefix), read_failures(prefix), len(acknowledged), audit, status,
        run_dir,
    )
    if not report.problems:
        shutil.rmtree(run_dir, ignore_errors=True)
    return report


def audit_stored(admin: AdminClient, message_ids: list[str]) -> Audit:
    """Which of `message_ids` the store lacks or counts twice."""
    answer = admin.verify(message_ids)
    return Audit(answer["missing"], answer["duplicated"], answer["extra_copies"])


@dataclass(frozen=True)
class _Target:
    url: str
    write_key: str
    admin_secret: str
    sdk_key: str | None


def _remote_target(options: LoadOptions) -> _Target:
    """The given collector, checked before anything starts."""
    if not (options.host and options.write_key and options.admin_secret):
        raise LoadRunError("--host needs --write-key and --admin-secret (or NORTHSTAR_WRITE_KEY, "
                           "NORTHSTAR_ADMIN_SECRET)")
    if options.log_budget_mb is not None:
        raise LoadRunError("--log-budget-mb applies to a collector the run starts, not to --host")
    target = _Target(options.host.rstrip("/"), options.write_key, options.admin_secret, options.sdk_key)
    AdminClient(target.url, target.admin_secret).status()
    return target


@contextmanager
def _local_collector(options: LoadOptions, run_dir: Path) -> Iterator[_Target]:
    """A collector of the run's own on chDB under `run_dir`, stopped (SIGTERM) afterwards."""
    from loadtests.server_process import (
        CollectorProcess,  # the server's dependencies, only when we host it
    )

    budget = options.log_budget_mb
    process = CollectorProcess(
        run_dir / "collector",
        write_key=secrets.token_urlsafe(16),
        admin_secret=secrets.token_urlsafe(24),
        sdk_key=secrets.token_urlsafe(24),
        extra_args=() if budget is None else ("--log-budget-mb", str(budget)),
    )
    try:
        process.start()
    except RuntimeError as error:
        first_line = str(error).splitlines()[0]
        raise LoadRunError(f"collector did not start (log: {process.log_path}): {first_line}") from None
    try:
        yield _Target(process.url, process.write_key, process.admin_secret, process.sdk_key)
    finally:
        process.stop()


def _demo_experiment() -> dict[str, Any]:
    weight = 1 / len(VARIANTS)
    return {
        "key": EXPERIMENT_KEY,
        "conversion_event": CONVERSION_EVENT,
        "variants": [{"key": variant, "weight": weight} for variant in VARIANTS],
    }


def _run_locust(options: LoadOptions, target: _Target, run_dir: Path) -> None:
    """Headless locust in a subprocess, killed if it outlives its duration by a minute."""
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "--host", target.url, "--tags", options.scenario,
        "-u", str(options.users), "-r", str(options.spawn_rate), "-t", f"{options.duration_seconds}s",
        "--csv", str(run_dir / "locust"), "--only-summary", "--exit-code-on-error", "0",
        "--loglevel", "WARNING",
    ]
    env = {
        **os.environ,
        "NORTHSTAR_WRITE_KEY": target.write_key,
        "NORTHSTAR_ADMIN_SECRET": target.admin_secret,
        "NORTHSTAR_SDK_KEY": target.sdk_key or "",
        "NORTHSTAR_LOADTEST_EXPERIMENT": EXPERIMENT_KEY,
        "NORTHSTAR_LOADTEST_MAX_WAIT": str(options.max_wait_seconds),
        ACK_DIR_ENV: str(run_dir / "acks"),
    }
    spawn_seconds = options.users / options.spawn_rate
    timeout = options.duration_seconds + spawn_seconds + _LOCUST_GRACE_SECONDS
    log_path = run_dir / "locust.log"
    with log_path.open("wb") as log:
        try:
            finished = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            message = f"locust still running after {timeout:.0f} s, killed (log: {log_path})"
            raise LoadRunError(message) from None
    if finished.returncode != 0:
        raise LoadRunError(f"locust exited with {finished.returncode} (log: {log_path})")


def format_report(report: LoadReport) -> str:
    """The summary a person reads; `lost = N` / `duplicated = N` lines are stable for scripts."""
    options, total, status, audit = report.options, report.total, report.collector_status, report.audit
    seconds = total.seconds or options.duration_seconds
    lines = [
        f"Northstar load test · {options.scenario} · {options.users} users (+{options.spawn_rate:g}/s) · "
        f"{options.duration_seconds} s · {report.target}",
        "",
        "| endpoint | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {row.label} | {row.requests:,} | {row.failures:,} | {row.requests_per_second:,.1f} | "
        f"{row.p50_ms:,.0f} | {row.p95_ms:,.0f} | {row.p99_ms:,.0f} |"
        for row in report.endpoints
    ]
    lines += [
        "",
        f"requests/s           {total.requests_per_second:,.1f}",
        f"events/s             {report.acknowledged / seconds:,.0f} (acknowledged, over {seconds:.1f} s)",
        f"latency              p50 {total.p50_ms:,.0f} ms · p95 {total.p95_ms:,.0f} ms · "
        f"p99 {total.p99_ms:,.0f} ms",
        f"error share          {total.failures / max(total.requests, 1):.2%} "
        f"({total.failures:,} of {total.requests:,} requests)",
    ]
    failures = sorted(report.failures, key=lambda failure: -failure.occurrences)
    lines += [f"  {f.occurrences:,} × {f.error} ({f.method} {f.name})" for f in failures]
    if options.scenario == "mixed" and not any(DEFINITIONS_PATH in row.name for row in report.endpoints):
        lines.append(f"note                 SDK definition polling left out ({DEFINITIONS_PATH}: 404)")
    lines += [
        f"acknowledged events  {report.acknowledged:,}",
        f"collector            accepted {status['accepted']:,} · stored {status['stored']:,} · "
        f"inserts {status['inserts']:,} · insert failures {status['insert_failures']:,} · "
        f"backlog {status['backlog_records']:,} records",
        f"resent copies        {audit.extra_copies:,} rows stored twice on disk, counted once by queries",
        f"lost = {len(audit.missing)}",
        f"duplicated = {len(audit.duplicated)}",
    ]
    if audit.missing or audit.duplicated:
        lines.append(f"first missing {audit.missing[:3]} · first duplicated {audit.duplicated[:3]}")
    if report.problems:
        lines.append(f"FAILED: {'; '.join(report.problems)} · evidence kept in {report.run_dir}")
    return "\n".join(lines)
