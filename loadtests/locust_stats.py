"""What a headless locust run measured, read back from its `--csv` files."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

__all__ = ["EndpointStats", "Failure", "read_failures", "read_stats"]


@dataclass(frozen=True)
class EndpointStats:
    """One row of `<prefix>_stats.csv`; latencies in milliseconds (0 when nothing was sent)."""

    method: str
    name: str
    requests: int
    failures: int
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def label(self) -> str:
        return f"{self.method} {self.name}".strip()

    @property
    def seconds(self) -> float:
        """How long locust measured this endpoint for (requests / their rate)."""
        return self.requests / self.requests_per_second if self.requests_per_second else 0.0


@dataclass(frozen=True)
class Failure:
    """One row of `<prefix>_failures.csv`: an error and how often an endpoint got it."""

    method: str
    name: str
    error: str
    occurrences: int


def read_stats(prefix: Path) -> list[EndpointStats]:
    """Per-endpoint rows, the `Aggregated` row last (as locust writes them)."""
    return [
        EndpointStats(
            method=row["Type"],
            name=row["Name"],
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            requests_per_second=float(row["Requests/s"]),
            p50_ms=_milliseconds(row["50%"]),
            p95_ms=_milliseconds(row["95%"]),
            p99_ms=_milliseconds(row["99%"]),
        )
        for row in _rows(Path(f"{prefix}_stats.csv"))
    ]


def read_failures(prefix: Path) -> list[Failure]:
    """The failures locust wrote to `<prefix>_failures.csv`, one per (method, name, error)."""
    return [
        Failure(row["Method"], row["Name"], row["Error"], int(row["Occurrences"]))
        for row in _rows(Path(f"{prefix}_failures.csv"))
    ]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as lines:
        return list(csv.DictReader(lines))


def _milliseconds(cell: str) -> float:
    return 0.0 if cell in ("", "N/A") else float(cell)
