"""Assignments per second on one core, against a bare SHA-256 loop in the same run.

    python -m loadtests.bench_assignment [--ids N] [--repeats R]

Rows, each the best of R passes over N distinct unit ids:

- baseline: ``hashlib.sha256(salt_and_id_bytes).digest()``, nothing else (the floor);
- the published hash (`sdk.assignment.bucket`, which formats and encodes the string);
- the same bucket from a hasher pre-fed with the salt (what compiled experiments do);
- `Experiment.evaluate` without and with targeting + a layer (two hashes);
- `Client.get_variant` with targeting + a layer, without exposure logging, and with it for
  returning units (the exposure cache already holds them: the steady state of a server);
- `Client.get_variant` while its first definitions fetch hangs on a collector that accepts the
  connection and never answers: what an app pays before definitions arrive (it must not wait).
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import time
from collections.abc import Callable, Sequence

from sdk import Client
from sdk.assignment import bucket
from sdk.experiments import Experiment

_VARIANTS = [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]
_TARGETED = {
    "key": "bench-targeted", "status": "running", "variants": _VARIANTS, "coverage": 0.9,
    "layer": {"name": "bench", "start": 0.0, "end": 1.0},
    "targeting": {"all": [
        {"attribute": "country", "op": "in", "value": ["US", "CA", "GB", "DE", "FR"]},
        {"attribute": "app_version", "op": "version_gte", "value": "1.10.0"},
        {"not": {"attribute": "plan", "op": "equals", "value": "internal"}},
    ]},
}
_ATTRIBUTES = {"country": "US", "app_version": "1.12.3", "plan": "pro"}


def rate(call: Callable[[str], object], ids: Sequence[str], repeats: int) -> float:
    """Best calls per second over `repeats` passes of `call` over every id."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for unit_id in ids:
            call(unit_id)
        best = min(best, time.perf_counter() - started)
    return len(ids) / best


def main(argv: list[str] | None = None) -> None:
    """Print assignment calls per second against a bare SHA-256 loop in the same run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    ids = [f"user-{n}" for n in range(args.ids)]
    encoded = {unit_id: f"bench-plain:{unit_id}".encode() for unit_id in ids}
    sha256 = hashlib.sha256
    prefix = sha256(b"bench-plain:")

    def prefixed_bucket(unit_id: str) -> float:
        hasher = prefix.copy()
        hasher.update(unit_id.encode())
        return int.from_bytes(hasher.digest()[:4], "big") / 4294967296.0

    plain = Experiment({"key": "bench-plain", "status": "running", "variants": _VARIANTS})
    targeted = Experiment(_TARGETED)
    client = Client("wk_bench", send=False, bootstrap={"experiments": [_TARGETED]}, exposure_cache_size=args.ids)
    for unit_id in ids:  # warm the exposure cache: returning units
        client.get_variant("bench-targeted", unit_id, _ATTRIBUTES)

    silent = socket.create_server(("127.0.0.1", 0))  # accepts into its backlog, never answers
    fetching = Client("wk_bench", f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=60)

    rows: list[tuple[str, float]] = [
        ("baseline: hashlib.sha256(bytes).digest()", rate(lambda u: sha256(encoded[u]).digest(), ids, args.repeats)),
        ("sdk.assignment.bucket (published hash)", rate(lambda u: bucket("bench-plain", u), ids, args.repeats)),
        ("bucket from a salt-prefixed hasher", rate(prefixed_bucket, ids, args.repeats)),
        ("Experiment.evaluate, no targeting", rate(plain.evaluate, ids, args.repeats)),
        ("Experiment.evaluate, targeting + layer", rate(lambda u: targeted.evaluate(u, _ATTRIBUTES), ids, args.repeats)),
        ("get_variant, targeting + layer, no exposure", rate(
            lambda u: client.get_variant("bench-targeted", u, _ATTRIBUTES, log_exposure=False), ids, args.repeats)),
        ("get_variant, targeting + layer, exposure cached", rate(
            lambda u: client.get_variant("bench-targeted", u, _ATTRIBUTES), ids, args.repeats)),
        ("get_variant while the definitions fetch hangs", rate(
            lambda u: fetching.get_variant("bench-targeted", u, _ATTRIBUTES), ids, args.repeats)),
    ]
    fetching.shutdown(timeout=0)
    baseline = rows[0][1]
    width = max(len(name) for name, _ in rows)
    print(f"{'assignment path':<{width}}  {'calls/s':>11}  {'µs/call':>8}  {'vs baseline':>11}")
    for name, per_second in rows:
        print(f"{name:<{width}}  {per_second:>11,.0f}  {1e6 / per_second:>8.2f}  {per_second / baseline:>10.2f}x")
    print(f"\n{args.ids:,} distinct ids, best of {args.repeats}; goals: bare hash ≥ 1M/s, get_variant ≥ 200k/s")


if __name__ == "__main__":
    main()
