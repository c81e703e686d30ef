"""Shared fixtures: a real collector process on 127.0.0.1 with a temporary chDB store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient


@pytest.fixture(scope="session")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """One collector for the session; tests keep apart by unique ids and event names."""
    with CollectorProcess(tmp_path_factory.mktemp("collector")) as process:
        yield process


@pytest.fixture
def api(collector: CollectorProcess) -> AdminClient:
    return AdminClient(collector.url, collector.admin_secret)


@pytest.fixture
def fresh_collector(tmp_path: Path) -> Iterator[CollectorProcess]:
    """A collector of this test's own, for tests that restart or crash it."""
    process = CollectorProcess(tmp_path / "collector")
    yield process
    process.stop()
