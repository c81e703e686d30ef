"""`python -m loadtests run …` (a load run that proves zero loss) and `… bench` (every benchmark).

Exit codes: 0 passed, 1 events lost or duplicated (or nothing acknowledged), 2 the run could
not be carried out (bad arguments, unreachable collector, locust failure).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from loadtests.benchmarks import run_benchmarks
from loadtests.run import LoadOptions, LoadRunError, format_report, run_load
from northstar.admin_client import ApiError

_Number = TypeVar("_Number", int, float)
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s?)?")


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line, not usage plus a message."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def duration_seconds(text: str) -> int:
    """Locust's duration syntax: `90`, `90s`, `5m`, `1h30m`; at least one second."""
    match = _DURATION.fullmatch(text.strip())
    if not match or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 60s, 5m or 1h30m")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total < 1:
        raise argparse.ArgumentTypeError("must be at least 1s")
    return total


def _positive(kind: Callable[[str], _Number]) -> Callable[[str], _Number]:
    def parse(text: str) -> _Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError("must be positive")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The parser of `python -m loadtests` (run, bench); its errors are one line and exit code 2."""
    parser = _Parser(prog="python -m loadtests", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="a bounded locust run, then a check of every acknowledged event")
    run.add_argument("--users", type=_positive(int), required=True,
                     help="locust users: simulated apps (in mixed, one of them is the PM)")
    run.add_argument("--spawn-rate", type=_positive(float), required=True, help="users started per second")
    run.add_argument("--duration", type=duration_seconds, required=True, help="e.g. 60s, 5m")
    run.add_argument("--tags", choices=("ingest", "mixed"), default="mixed",
                     help="ingest: batches only; mixed (default): plus experiment results reads")
    run.add_argument("--host", help="an existing collector's URL (default: start one on a temp dir)")
    run.add_argument("--write-key", default=os.environ.get("NORTHSTAR_WRITE_KEY"),
                     help="with --host (default $NORTHSTAR_WRITE_KEY)")
    run.add_argument("--admin-secret", default=os.environ.get("NORTHSTAR_ADMIN_SECRET"),
                     help="with --host (default $NORTHSTAR_ADMIN_SECRET)")
    run.add_argument("--sdk-key", default=os.environ.get("NORTHSTAR_SDK_KEY"),
                     help="with --host: the SDK key apps poll definitions with (default $NORTHSTAR_SDK_KEY; "
                     "without one they do not poll)")
    run.add_argument("--max-wait", type=float, default=0.2,
                     help="an app's longest pause between batches, seconds (default 0.2; 0 = flat out)")
    run.add_argument("--log-budget-mb", type=_positive(int),
                     help="without --host: the collector's log budget; a small one (1) provokes 503s")
    run.add_argument("--drain-timeout", type=_positive(float), default=120.0,
                     help="how long to wait for the backlog to reach ClickHouse, seconds (default 120)")

    bench = commands.add_parser("bench", help="every benchmark present, one markdown table")
    bench.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not figures to quote")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a load test or the benchmarks; exit code 0 only when nothing acknowledged was lost or duplicated."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "bench":
            print(run_benchmarks(quick=args.quick))
            return 0
        if args.tags == "mixed" and args.users < 2:
            parser.error("--tags mixed needs --users 2 or more (one of them is the PM)")
        if args.max_wait < 0:
            parser.error("--max-wait: must not be negative")
        report = run_load(
            LoadOptions(
                users=args.users, spawn_rate=args.spawn_rate, duration_seconds=args.duration,
                scenario=args.tags, host=args.host, write_key=args.write_key,
                admin_secret=args.admin_secret, sdk_key=args.sdk_key, max_wait_seconds=args.max_wait,
                drain_timeout_seconds=args.drain_timeout, log_budget_mb=args.log_budget_mb,
            )
        )
    except (LoadRunError, ApiError) as error:
        print(f"loadtests: {error}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
