"""Benchmark: ingest acknowledgement latency with PMs running insight queries against without, same run.

Two locust runs of equal length, each against a fresh collector it starts: `ingest` (the apps'
batches only) and `mixed` (the same number of apps, plus a PM reading experiment results and
two PMs running trends with breakdowns, weekly actives and the event catalog). Prints the
`POST /v1/batch` p50/p99 of both, their ratio, how many insight queries ran or were shed
(429/503 by the analytical limits), and the loss audit of each run (lost must be 0).

    .venv/bin/python -m loadtests.bench_insight_load --users 20 --duration 60
"""

from __future__ import annotations

import argparse

from loadtests.run import LoadOptions, LoadReport, run_load

_PM_USERS = 3  # locustfile: one ProductManager, two InsightAnalysts (fixed counts)


def _batches(report: LoadReport) -> tuple[float, float, int]:
    row = next(r for r in report.endpoints if r.name == "/v1/batch")
    return row.p50_ms, row.p99_ms, row.requests


def main() -> None:
    """Run both scenarios and print the same-run comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="simulated apps (default 20)")
    parser.add_argument("--duration", type=int, default=60, help="seconds per run (default 60)")
    args = parser.parse_args()
    reports = {scenario: run_load(LoadOptions(users=args.users + (_PM_USERS if scenario == "mixed" else 0),
                                              spawn_rate=args.users, duration_seconds=args.duration,
                                              scenario=scenario))
               for scenario in ("ingest", "mixed")}
    (p50_alone, p99_alone, _), (p50_mixed, p99_mixed, _) = (_batches(reports[s]) for s in ("ingest", "mixed"))
    insights = [row for row in reports["mixed"].endpoints if "insights" in row.name or "catalog" in row.name]
    print(f"{args.users} apps, {args.duration} s per run")
    for scenario, report in reports.items():
        p50, p99, requests = _batches(report)
        print(f"  {scenario:<6} POST /v1/batch: {requests:,} requests, p50 {p50:,.0f} ms, p99 {p99:,.0f} ms; "
              f"{report.acknowledged:,} events acknowledged; lost = {len(report.audit.missing)}, "
              f"duplicated = {len(report.audit.duplicated)}")
    for row in insights:
        print(f"  {row.label}: {row.requests:,} requests, p50 {row.p50_ms:,.0f} ms, p99 {row.p99_ms:,.0f} ms")
    print(f"  ack p99 with PM queries / without: {p99_mixed / max(p99_alone, 1.0):.2f}x "
          f"(p50 {p50_mixed / max(p50_alone, 1.0):.2f}x)")


if __name__ == "__main__":
    main()
