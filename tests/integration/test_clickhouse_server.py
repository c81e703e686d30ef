"""The same collector on a ClickHouse server or cluster, reached over HTTP.

No ClickHouse server can be installed on these machines, so these run only where
CLICKHOUSE_URL (e.g. http://default:@127.0.0.1:8123/default) is set; cluster mode also
needs NORTHSTAR_TEST_CLUSTER, the name of a cluster in that server's configuration.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient

CLICKHOUSE_URL = os.environ.get("CLICKHOUSE_URL")
CLUSTER = os.environ.get("NORTHSTAR_TEST_CLUSTER")

pytestmark = pytest.mark.skipif(
    not CLICKHOUSE_URL, reason="CLICKHOUSE_URL is not set: no ClickHouse server on this machine"
)


def _round_trip(tmp_path: Path, extra_args: tuple[str, ...]) -> None:
    with CollectorProcess(tmp_path / "collector", extra_args=extra_args) as collector:
        user = f"server-{uuid.uuid4().hex[:10]}"
        batch = [{"type": "track", "event": "Server Event", "userId": user, "messageId": f"{user}-{n}"}
                 for n in range(100)]
        for _ in range(2):  # a resend is counted once
            response = httpx.post(collector.url + "/v1/batch", json={"batch": batch},
                                  auth=(collector.write_key, ""))
            assert response.status_code == 200
        api = AdminClient(collector.url, collector.admin_secret)
        api.wait_until_stored()
        assert api.events(user_id=user)["total"] == 100
        report = api.verify([event["messageId"] for event in batch])
        assert report["missing"] == [] and report["duplicated"] == []


def test_single_server(tmp_path: Path) -> None:
    _round_trip(tmp_path, ("--clickhouse-dsn", CLICKHOUSE_URL))


@pytest.mark.cluster
@pytest.mark.skipif(not CLUSTER, reason="NORTHSTAR_TEST_CLUSTER is not set: no cluster configured")
def test_cluster_mode(tmp_path: Path) -> None:
    _round_trip(tmp_path, ("--clickhouse-dsn", CLICKHOUSE_URL, "--cluster", CLUSTER))
