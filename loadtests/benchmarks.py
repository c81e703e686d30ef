"""Every benchmark in one go: one markdown table of figures, each against a same-run baseline.

Benchmarks run one after another (never side by side: they would measure each other), each
from its own module in `loadtests/`; a module that is absent is listed as not available, one
that fails is listed with its error, and the others still run. Absolute figures depend on
the machine, which the table's heading names; the ratios are what carries over.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["Figure", "run_benchmarks", "machine_description", "parse_markdown_table"]


@dataclass(frozen=True)
class Figure:
    """One measured figure and the baseline measured in the same run, if any."""

    benchmark: str
    measure: str
    result: str
    baseline: str = ""
    ratio: str = ""

    def row(self) -> str:
        cells = (self.benchmark, self.measure, self.result, self.baseline, self.ratio)
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


Benchmark = Callable[[bool], list[Figure]]


def run_benchmarks(quick: bool) -> str:
    """Run every benchmark present and return the whole markdown report."""
    figures: list[Figure] = []
    for name, benchmark in _BENCHMARKS.items():
        module = f"loadtests.bench_{name}"
        if importlib.util.find_spec(module) is None:
            figures.append(Figure(name, "not available", f"no module {module}"))
            continue
        print(f"running {module} …", file=sys.stderr, flush=True)
        try:
            figures += benchmark(quick)
        except Exception as error:  # one benchmark's failure (or changed output) must not cost the others
            figures.append(Figure(name, "failed", _one_line(f"{type(error).__name__}: {error}")))
    sizes = "quick sizes (smoke run, not figures to quote)" if quick else "full sizes"
    return "\n".join([
        f"## Northstar benchmarks · {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"{machine_description()} · {sizes}",
        "",
        "| benchmark | measure | result | same-run baseline | result / baseline |",
        "|---|---|---:|---:|---:|",
        *(figure.row() for figure in figures),
    ])


def machine_description() -> str:
    """nproc, CPU model and Python: what a reader needs to compare absolute figures."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"nproc {len(os.sched_getaffinity(0))} · {model} · Python {platform.python_version()}"


def parse_markdown_table(text: str) -> list[dict[str, str]]:
    """Rows of the first markdown table in `text`, keyed by its header cells."""
    lines = [line.strip() for line in text.splitlines()]
    table = [line for line in lines if line.startswith("|") and line.endswith("|")]
    if len(table) < 2:
        raise ValueError("no markdown table in the output")
    header, *rows = ([cell.strip() for cell in line.strip("|").split("|")] for line in table)
    return [dict(zip(header, row)) for row in rows if not set("".join(row)) <= set("-: ")]


def _sdk(quick: bool) -> list[Figure]:
    """Northstar's SDK against posthog-python and segment: caller cost and delivered rate."""
    rows = parse_markdown_table(_run_module("loadtests.bench_sdk", "--events", "2000" if quick else "20000"))
    by_sdk = {row["SDK"]: row for row in rows}
    ours = by_sdk.pop("northstar")
    figures = []
    for column, better in (("caller median µs", "lower"), ("caller p99 µs", "lower"),
                           ("delivered events/s", "higher")):
        for peer, theirs in by_sdk.items():
            figures.append(Figure(
                "sdk", f"{column} ({better} is better)", ours[column], f"{peer}: {theirs[column]}",
                _ratio(_number(ours[column]), _number(theirs[column])),
            ))
    return figures


def _wal(quick: bool) -> list[Figure]:
    """Group-commit appends with fsync against the same appends without it."""
    from loadtests.bench_wal import (
        measure_appends,  # here: an absent module is a row, not a crash
    )

    seconds = 0.3 if quick else 1.0
    sizes = (1_000,) if quick else (1_000, 10_000)
    figures = []
    with tempfile.TemporaryDirectory(prefix="bench-wal-") as scratch:
        for size in sizes:
            for concurrency in ((1, 128) if quick else (1, 16, 128)):
                on, off = (measure_appends(Path(scratch), size, concurrency, fsync=fsync, seconds=seconds)
                           for fsync in (True, False))
                figures.append(Figure(
                    "wal", f"appends/s, {size:,} B records, concurrency {concurrency}, fsync on "
                    f"({on.records / max(on.fsyncs, 1):.1f} per fsync)",
                    f"{on.records_per_second:,.0f}", f"fsync off: {off.records_per_second:,.0f}",
                    _ratio(on.records_per_second, off.records_per_second),
                ))
    return figures


_VIEWS_LINE = re.compile(r"([\d,]+) rows/s with the persons views, ([\d,]+) without")


def _collector(quick: bool) -> list[Figure]:
    """The collector end to end (HTTP → log → ClickHouse) against bare chDB inserts, and the
    persons views' insert-time cost."""
    args = ("--seconds", "3", "--ceiling-rows", "100000", "--view-batches", "50") if quick else ()
    output = _run_module("loadtests.bench_collector", *args)
    rows = parse_markdown_table(output)
    ceiling = next(row for row in rows if "ceiling" in row["path"])
    views = [Figure("collector", "insert into events_input with the persons views, rows/s", with_views,
                    f"without them: {without}", _ratio(_number(with_views), _number(without)))
             for with_views, without in _VIEWS_LINE.findall(output)]
    return views + [
        Figure(
            "collector",
            f"{row['path']}: end-to-end events/s (ack {row['acknowledged events/s']}/s, "
            f"p50 {row['ack p50 ms']} ms, p99 {row['ack p99 ms']} ms)",
            row["end-to-end events/s"],
            f"raw chDB insert: {ceiling['acknowledged events/s']}",
            f"{row['end-to-end / ceiling']}×",
        )
        for row in rows
        if row is not ceiling
    ]


_ANALYSIS_LINE = re.compile(
    r"^([\d,]+) events.*?results ([\d.]+) s per experiment; baseline scan ([\d.]+) s",
    re.MULTILINE | re.DOTALL,
)


_IDENTITY_LINE = re.compile(
    r"^([\d,]+) events.*?with identity resolution ([\d.]+) s, without ([\d.]+) s", re.MULTILINE | re.DOTALL)


def _analysis(quick: bool) -> list[Figure]:
    """One experiment's results (3 metrics + CUPED) against a plain scan of the same events."""
    args = ("--events", "200000", "--repeats", "1") if quick else ()
    output = _run_module("loadtests.bench_analysis", *args)
    figures = [
        Figure("analysis", f"results of one experiment, {events} events, s", experiment,
               f"full scan: {baseline}", _ratio(float(experiment), float(baseline)))
        for events, experiment, baseline in _ANALYSIS_LINE.findall(output)
    ]
    if not figures:
        raise ValueError("no 'results … s per experiment' line in the output")
    figures += [Figure("analysis", f"experiment query with identity resolution, {events} events, s", with_identity,
                       f"without: {without}", _ratio(float(with_identity), float(without)))
                for events, with_identity, without in _IDENTITY_LINE.findall(output)]
    return figures


_ASSIGNMENT_LINE = re.compile(r"^(?P<path>\S.*?)\s{2,}(?P<rate>[\d,]+)\s+[\d.]+\s+[\d.]+x$", re.MULTILINE)


def _assignment(quick: bool) -> list[Figure]:
    """Assignments per second on one core, against a bare SHA-256 call in the same run."""
    args = ("--ids", "20000", "--repeats", "1") if quick else ()
    paths = _ASSIGNMENT_LINE.findall(_run_module("loadtests.bench_assignment", *args))
    if len(paths) < 2:
        raise ValueError("no assignment table in the output")
    (baseline_name, baseline), *measured = paths
    return [
        Figure("assignment", f"{path} calls/s", rate, f"{baseline_name.removeprefix('baseline: ')}: {baseline}",
               _ratio(_number(rate), _number(baseline)))
        for path, rate in measured
    ]


def _run_module(module: str, *args: str) -> str:
    """stdout of `python -m module args`; RuntimeError with its last stderr line if it failed."""
    finished = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=_TIMEOUT_SECONDS
    )
    if finished.returncode != 0:
        last = (finished.stderr.strip().splitlines() or [f"exit code {finished.returncode}"])[-1]
        raise RuntimeError(f"{module} {' '.join(args)}: {last}")
    return finished.stdout


def _number(cell: str) -> float:
    return float(cell.replace(",", ""))


def _ratio(result: float, baseline: float) -> str:
    return f"{result / baseline:.3g}×" if baseline else "n/a"


def _one_line(text: str) -> str:
    return text.strip().splitlines()[-1] if text.strip() else "no message"


_TIMEOUT_SECONDS = 1_800
_BENCHMARKS: dict[str, Benchmark] = {
    "sdk": _sdk, "wal": _wal, "collector": _collector, "assignment": _assignment, "analysis": _analysis,
}
