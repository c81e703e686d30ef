"""Caller cost and delivered throughput of Northstar's SDK (without and with its disk spool)
against posthog-python and segment.

    python -m loadtests.bench_sdk [--events N] [--rounds R]

A loopback sink (a separate process, so it does not compete for the clients' GIL) accepts
any path (`/v1/batch`, posthog's `/batch/`), gunzips and counts the events of each `batch`.
For each SDK, with default settings except a queue large enough for the whole run:

- caller cost: perf_counter_ns around every track()/capture() call (median, p99);
- throughput: events the sink received / time from the first call until it had them all.

The SDKs take turns for `--rounds` rounds (default 5), each round starting with the next
SDK; each figure is the median of its rounds, so a burst of load on a shared machine moves
one round, not one SDK.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import multiprocessing
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.sharedctypes import Synchronized
from typing import Any

WRITE_KEY = "wk_benchkey"


@dataclass(frozen=True)
class Result:
    """One SDK's caller cost per call (median, p99) and what reached the sink, how fast."""

    sdk: str
    median_us: float
    p99_us: float
    delivered: int
    events_per_second: float


def serve_sink(port_out: Any, received: Synchronized[int]) -> None:
    """Run the counting sink forever (in its own process); sends its port through `port_out`."""

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: avoid delayed-ACK stalls

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            count = len(json.loads(body).get("batch", ()))
            with received.get_lock():
                received.value += count
            answer = json.dumps({"success": True, "accepted": count, "rejected": []}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    port_out.send(server.server_address[1])
    server.serve_forever()


def northstar_client(
    url: str, events: int, *, spool: bool = False
) -> tuple[Callable[[int], Any], Callable[[], Any]]:
    """Our SDK's track call and shutdown, with a queue large enough to keep every event (`spool`: a disk spool too)."""
    import sdk

    spool_dir = tempfile.mkdtemp(prefix="bench-sdk-spool-") if spool else None
    client = sdk.Client(WRITE_KEY, host=url, max_queue_size=events, spool_dir=spool_dir)

    def call(i: int) -> Any:
        return client.track("user-1", "Bench Event", {"plan": "pro", "n": i, "ok": True})

    def shutdown() -> None:
        client.shutdown(timeout=None)  # no limit: the run waits for every event
        if spool_dir is not None:
            shutil.rmtree(spool_dir, ignore_errors=True)

    return call, shutdown


def posthog_client(url: str, events: int) -> tuple[Callable[[int], Any], Callable[[], Any]]:
    """posthog-python's capture call and shutdown, with a queue large enough to keep every event."""
    import posthog

    client = posthog.Posthog("phc_benchkey", host=url, max_queue_size=events)

    def call(i: int) -> Any:
        properties = {"plan": "pro", "n": i, "ok": True}
        return client.capture("Bench Event", distinct_id="user-1", properties=properties)

    return call, client.shutdown


def segment_client(url: str, events: int) -> tuple[Callable[[int], Any], Callable[[], Any]]:
    """segment analytics-python's track call and shutdown, with a queue large enough to keep every event."""
    from segment.analytics import Client

    client = Client(WRITE_KEY, host=url, max_queue_size=events)

    def call(i: int) -> Any:
        return client.track("user-1", "Bench Event", {"plan": "pro", "n": i, "ok": True})

    return call, client.shutdown


SDKS: dict[str, Callable[..., tuple[Callable[[int], Any], Callable[[], Any]]]] = {"northstar": northstar_client, "northstar+spool": functools.partial(northstar_client, spool=True),
        "posthog-python": posthog_client, "segment": segment_client}


def measure(name: str, url: str, received: Synchronized[int], events: int) -> Result:
    """Time each call of SDK `name`, then wait for its events at the sink; run in a fresh process per SDK."""
    call, shutdown = SDKS[name](url, events)
    with received.get_lock():
        received.value = 0
    costs = [0] * events
    clock = time.perf_counter_ns
    started = time.perf_counter()
    for i in range(events):
        before = clock()
        call(i)
        costs[i] = clock() - before
    shutdown()  # flushes
    delivered = _wait_until_stable(received, events)
    elapsed = time.perf_counter() - started
    costs.sort()
    return Result(
        name,
        median_us=statistics.median(costs) / 1000,
        p99_us=costs[int(len(costs) * 0.99)] / 1000,
        delivered=delivered,
        events_per_second=delivered / elapsed,
    )


def _median(name: str, measured: list[Result]) -> Result:
    return Result(
        name,
        median_us=statistics.median(r.median_us for r in measured),
        p99_us=statistics.median(r.p99_us for r in measured),
        delivered=min(r.delivered for r in measured),
        events_per_second=statistics.median(r.events_per_second for r in measured),
    )


def _wait_until_stable(received: Synchronized[int], expected: int, quiet_seconds: float = 1.0) -> int:
    """The sink's count once it reached `expected`, or stopped growing for `quiet_seconds`."""
    last, last_change = -1, time.perf_counter()
    while True:
        count = received.value
        if count >= expected:
            return count
        now = time.perf_counter()
        if count != last:
            last, last_change = count, now
        elif now - last_change > quiet_seconds:
            return count
        time.sleep(0.001)


def main(argv: list[str] | None = None) -> None:
    """Print each SDK's caller cost and delivery rate, side by side in one run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    events = args.events

    spawn = multiprocessing.get_context("spawn")
    received = spawn.Value("q", 0)
    port_in, port_out = spawn.Pipe(duplex=False)
    sink = spawn.Process(target=serve_sink, args=(port_out, received), daemon=True)
    sink.start()
    url = f"http://127.0.0.1:{port_in.recv()}"
    rounds: dict[str, list[Result]] = {name: [] for name in SDKS}
    try:
        names = list(SDKS)
        for turn in range(args.rounds):  # each round starts with the next SDK: none is always first
            for name in names[turn % len(names):] + names[:turn % len(names)]:
                rounds[name].append(measure(name, url, received, events))
    finally:
        sink.terminate()
    results = [_median(name, measured) for name, measured in rounds.items()]

    print(f"\n{events} events per SDK, default settings (queue sized for the run), "
          f"median of {args.rounds} rounds\n")
    print("| SDK | caller median µs | caller p99 µs | delivered | delivered events/s |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.sdk} | {r.median_us:.2f} | {r.p99_us:.2f} | {r.delivered} "
              f"| {r.events_per_second:,.0f} |")
    ours, spooled, peers = results[0], results[1], results[2:]
    print()
    print(f"- spool on / off: caller median {spooled.median_us / ours.median_us:.2f}x, "
          f"p99 {spooled.p99_us / ours.p99_us:.2f}x (goal <= 1.2x); "
          f"delivered events/s {spooled.events_per_second / ours.events_per_second:.2f}x (goal >= 0.7x)")
    best = max(peers, key=lambda peer: peer.events_per_second)
    print(f"- delivered events/s northstar / best peer ({best.sdk}): "
          f"{ours.events_per_second / best.events_per_second:.1f}x (goal >= 8x)")
    for peer in peers:
        print(f"- caller cost {peer.sdk} / northstar: median {peer.median_us / ours.median_us:.1f}x, "
              f"p99 {peer.p99_us / ours.p99_us:.1f}x; "
              f"throughput northstar / {peer.sdk}: {ours.events_per_second / peer.events_per_second:.1f}x")


if __name__ == "__main__":
    main()
