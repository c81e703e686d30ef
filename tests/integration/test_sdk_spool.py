"""The SDK's disk spool: kill -9 loses nothing it counted as spooled, forked workers write files
of their own, a dead process's spool is picked up, the disk budget and damage are counted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import sdk
from sdk.spool import SUFFIX, encode_record
from sdk_sink import refusing_host, running_sink, wait_until

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the spool needs POSIX")

_TIGHT_LOOP = """
import sys, itertools, sdk
host, spool_dir, run = sys.argv[1:4]
client = sdk.Client({write_key!r}, host, spool_dir=spool_dir, max_queue_size=1_000_000, max_retry_seconds=600)
for n in itertools.count():
    client.track("spool-user-" + run, "Spooled", {{"n": n}}, message_id=f"{{run}}-{{n}}")
    if n % 2_000 == 0:
        print(n, client.stats().spooled, flush=True)
"""


def _run_until_killed(host: str, spool_dir: Path, run: str, write_key: str, spooled_at_least: int) -> int:
    """Start an app in a tight track() loop, kill -9 it; returns the last `stats().spooled` it printed."""
    program = _TIGHT_LOOP.format(write_key=write_key)
    app = subprocess.Popen([sys.executable, "-c", program, host, str(spool_dir), run],
                           cwd=REPO, stdout=subprocess.PIPE, text=True)
    spooled = 0
    try:
        assert app.stdout is not None
        for line in app.stdout:
            spooled = int(line.split()[1])
            if spooled >= spooled_at_least:
                break
    finally:
        app.send_signal(signal.SIGKILL)
        app.wait(timeout=30)
    assert spooled >= spooled_at_least
    return spooled


def test_kill_9_in_a_tight_loop_loses_nothing_the_spool_counted(tmp_path: Path, collector: Any, api: Any) -> None:
    run = f"k{time.time_ns()}"
    spooled = _run_until_killed(collector.url, tmp_path, run, collector.write_key, 30_000)
    assert list(tmp_path.glob(f"*{SUFFIX}")), "the killed app left its spool"

    client = sdk.Client(collector.write_key, collector.url, spool_dir=tmp_path)
    client.track("spool-restart", "Restarted")  # the first use picks the orphaned spool up, then sends this
    wait_until(lambda: client.stats().sent >= 1 and client.stats().pending == 0, timeout=60)
    assert client.shutdown()
    stats = client.stats()
    assert stats.dropped_total == 0 and stats.sent == stats.recovered + 1
    assert not list(tmp_path.glob(f"*{SUFFIX}")), "a fully sent spool is deleted"

    api.wait_until_stored()
    report = api.verify([f"{run}-{n}" for n in range(spooled)])
    assert report["missing"] == [] and report["duplicated"] == []


def test_a_dead_workers_spool_is_sent_with_its_ids_and_timestamps_but_a_live_ones_is_not(tmp_path: Path) -> None:
    with refusing_host() as down:
        live = subprocess.Popen(  # a live process holding its own spool file
            [sys.executable, "-c", "import sys, time, sdk\n"
             "c = sdk.Client('wk_test', sys.argv[1], spool_dir=sys.argv[2], max_retry_seconds=600)\n"
             "c.track('alive', 'Alive'); print('ready', flush=True); time.sleep(60)", down, str(tmp_path)],
            cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            assert live.stdout is not None and live.stdout.readline().strip() == "ready"
            wait_until(lambda: len(list(tmp_path.glob(f"*{SUFFIX}"))) == 1)
            spooled = _run_until_killed(down, tmp_path, "dead", "wk_test", 2_000)
            with running_sink() as sink:
                client = sdk.Client("wk_test", sink.url, spool_dir=tmp_path, flush_interval=0.05)
                client.track("restarted", "Restarted")
                wait_until(lambda: client.stats().recovered > 0 and client.stats().pending == 0, timeout=30)
                client.shutdown()
                messages = sink.messages()
        finally:
            live.kill()
            live.wait()
    recovered = [m for m in messages if m["userId"] == "spool-user-dead"]
    numbers = [m["properties"]["n"] for m in recovered]
    assert numbers[:spooled] == list(range(spooled)) and len(set(numbers)) == len(numbers)
    assert all(m["messageId"] == f"dead-{m['properties']['n']}" for m in recovered)
    assert recovered[0]["timestamp"] < messages[-1]["timestamp"]  # the original timestamps
    assert not any(m["userId"] == "alive" for m in messages)
    stats = client.stats()  # a torn last write (kill -9 in the middle of it) is counted as damage
    assert stats.recovered == len(recovered) + stats.dropped["spool_damaged"] and stats.dropped["spool_damaged"] <= 1


def test_forked_workers_each_write_a_spool_file_of_their_own(tmp_path: Path) -> None:
    with running_sink() as sink:
        client = sdk.Client("wk_test", sink.url, spool_dir=tmp_path, flush_interval=0.05)
        client.track("parent", "Before Fork")
        assert client.flush()
        parent_file = client._consumer._spool._own.path
        paths_read, paths_write = os.pipe()
        children = []
        for worker in range(2):
            pid = os.fork()
            if pid == 0:  # a worker: exits 0 only if it behaved
                ok = False
                try:
                    for n in range(100):
                        client.track(f"worker-{worker}", "In Worker", {"n": n})
                    ok = client.flush(10) and client.stats().sent == 100
                    os.write(paths_write, f"{client._consumer._spool._own.path}\n".encode() if ok
                             else f"{client.stats()}\n".encode())
                except BaseException as error:
                    os.write(paths_write, f"{error!r}\n".encode())
                    ok = False
                finally:
                    os._exit(0 if ok else 1)
            children.append(pid)
        statuses = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
        os.close(paths_write)
        with os.fdopen(paths_read) as pipe:
            worker_files = pipe.read().split("\n")[:-1]
        assert statuses == [0, 0], worker_files
        client.track("parent", "After Fork")
        assert client.flush()
        client.shutdown()
        users = sorted(m["userId"] for m in sink.messages())
    assert len(set(worker_files) | {str(parent_file)}) == 3
    assert users == ["parent"] * 2 + ["worker-0"] * 100 + ["worker-1"] * 100


def test_events_unsent_when_shutdown_times_out_stay_in_the_spool_for_the_next_start(tmp_path: Path) -> None:
    with refusing_host() as down:
        client = sdk.Client("wk_test", down, spool_dir=tmp_path, max_retry_seconds=600)
        for n in range(50):
            client.track("user-1", "Clicked", {"n": n})
        assert not client.shutdown(timeout=0.3)
        wait_until(lambda: client.stats().pending == 0)
        assert client.stats().dropped["shutdown"] == 50 and client.stats().spooled == 50
    with running_sink() as sink:
        again = sdk.Client("wk_test", sink.url, spool_dir=tmp_path, flush_interval=0.05)
        again.track("user-1", "Restarted")
        wait_until(lambda: again.stats().recovered == 50 and again.stats().pending == 0)
        again.shutdown()
        numbers = [m["properties"]["n"] for m in sink.messages() if m["event"] == "Clicked"]
    assert numbers == list(range(50))


def test_past_the_disk_budget_drops_are_counted_and_reported_once(tmp_path: Path) -> None:
    errors: list[sdk.NorthstarError] = []
    with refusing_host() as down:
        client = sdk.Client("wk_test", down, spool_dir=tmp_path, spool_max_bytes=40_000, max_retry_seconds=600,
                            on_error=lambda error, messages: errors.append(error))
        for n in range(2_000):
            client.track("user-1", "Clicked", {"n": n})
        wait_until(lambda: client.stats().spooled + client.stats().dropped["spool_full"] == 2_000)
        stats = client.stats()
        assert 0 < stats.spooled < 2_000
        assert sum(f.stat().st_size for f in tmp_path.glob(f"*{SUFFIX}")) <= 40_000
        assert [e.reason for e in errors] == ["spool_full"]
        client.shutdown(timeout=0.5)
    assert client.stats().enqueued == client.stats().sent + client.stats().dropped_total + client.stats().pending


def test_a_damaged_spool_is_salvaged_around_the_damage(tmp_path: Path) -> None:
    def message(n: int) -> bytes:
        return json.dumps({"type": "track", "event": "Salvaged", "userId": "u", "messageId": f"m{n}",
                           "timestamp": "2026-01-01T00:00:00.000+00:00", "properties": {"n": n}}).encode()

    good = b"".join(encode_record(message(n)) for n in range(10))
    flipped = bytearray(encode_record(message(10)))
    flipped[-5] ^= 1  # a bit flipped inside the JSON: its CRC fails
    rest = b"".join(encode_record(message(n)) for n in range(11, 16))
    torn = encode_record(message(16))[:-7]  # the process died in the middle of this write
    (tmp_path / f"1-dead{SUFFIX}").write_bytes(good + bytes(flipped) + b"garbage without a crc\n" + rest + torn)
    (tmp_path / f"1-dead{SUFFIX}.ack").write_bytes(b"\xff" * 12)  # a damaged checkpoint: start over

    with running_sink() as sink:
        client = sdk.Client("wk_test", sink.url, spool_dir=tmp_path, flush_interval=0.05)
        client.track("u", "Restarted")
        wait_until(lambda: client.stats().recovered > 0 and client.stats().pending == 0)
        client.shutdown()
        salvaged = [m["properties"]["n"] for m in sink.messages() if m["event"] == "Salvaged"]
    assert salvaged == [*range(10), *range(11, 16)]
    stats = client.stats()
    assert stats.recovered == 18 and stats.dropped["spool_damaged"] == 3 and stats.sent == 16
    assert not list(tmp_path.glob(f"*{SUFFIX}"))
