"""Fixtures of the insight reference tests: an embedded store of their own per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.storage import connect, migrate
from collector.storage.clickhouse import Client


@pytest.fixture(scope="module")
def events_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """A migrated chDB store for one test module (load events with `insight_events.load`)."""
    store = connect(f"chdb://{Path(tmp_path_factory.mktemp('events'))}")
    migrate(store)
    yield store
    store.close()
