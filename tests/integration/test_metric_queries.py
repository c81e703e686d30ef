"""The metric query on chDB directly: resent events count once, filters, windows and caps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from collector.storage import connect, migrate
from collector.storage.clickhouse import Client
from collector.storage.events import EVENT_COLUMNS
from experiments.metrics import parse_metric
from experiments.queries import MetricQuery, experiment_sums

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    store = connect(f"chdb://{Path(tmp_path_factory.mktemp('chdb'))}")
    migrate(store)
    store.command("SYSTEM STOP MERGES events")  # keep resent copies in separate parts
    yield store
    store.close()


def _row(message_id: str, user: str, event: str, at: datetime, properties: dict, variation: str = "") -> list:
    return [message_id, "track", event, "", user, "", "", "", at, at, at, at, json.dumps(properties), "{}", "{}",
            "exp" if variation else "", variation]


def _metric(**fields: object) -> MetricQuery:
    return MetricQuery(parse_metric(json.dumps({"key": "m", **fields})), 24, False)


def test_resent_events_count_once_and_filters_windows_and_caps_apply(client: Client) -> None:
    rows, revenue = [], {"a": [], "b": []}
    for n in range(40):
        variant, user = "ab"[n % 2], f"u{n}"
        rows.append(_row(f"x{n}", user, "Experiment Viewed", T0, {}, variant))
        amount = float(n * n)
        rows.append(_row(f"o{n}", user, "Order", T0 + timedelta(hours=1), {"revenue": amount, "qty": n % 3}))
        rows.append(_row(f"late{n}", user, "Order", T0 + timedelta(hours=30), {"revenue": 1000.0, "qty": 1}))
        revenue[variant].append(amount)
    client.insert("events", rows, column_names=EVENT_COLUMNS)
    client.insert("events", rows[1::3], column_names=EVENT_COLUMNS)  # every order resent once

    count, filtered, capped = _per_metric(client)

    assert count == {"a": 20.0, "b": 20.0}
    assert filtered == {v: float(sum(1 for n in range(40) if "ab"[n % 2] == v and n % 3 != 1)) for v in "ab"}
    everyone = np.array(revenue["a"] + revenue["b"])
    cap = np.sort(everyone)[int(0.9 * len(everyone))]  # quantileExact: the element at floor(p·n)
    assert capped == {v: pytest.approx(float(np.minimum(revenue[v], cap).sum())) for v in "ab"}


def _per_metric(client: Client) -> tuple[dict[str, float], ...]:
    sums = experiment_sums(client, "exp", [
        _metric(kind="count", event="Order"),
        _metric(kind="count", event="Order", filters=[{"property": "qty", "in": ["0", "2"]}]),
        _metric(kind="mean", event="Order", property="revenue", cap={"kind": "percentile", "value": 0.9}),
    ], lookback_hours=24)
    assert {d.variant for d in sums.days} == {"a", "b"}
    return tuple({d.variant: d.metrics[index].value for d in sums.days} for index in range(3))
