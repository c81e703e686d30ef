"""Apps sending SDK-shaped batches to the collector, a PM reading experiment results, and PMs
running product insights (trends, the event catalog).

    python -m locust -f loadtests/locustfile.py --headless --host URL -u 20 -r 5 -t 60s \\
        --tags ingest|mixed --csv PREFIX

`python -m loadtests run` drives this file and checks the outcome; run by hand, it reads:

- NORTHSTAR_WRITE_KEY, NORTHSTAR_ADMIN_SECRET: the collector's credentials;
- NORTHSTAR_SDK_KEY: the server-side SDK key definitions are polled with (unset: no polling);
- NORTHSTAR_LOADTEST_ACK_DIR: where each process appends the message ids the collector
  acknowledged (unset: nothing recorded);
- NORTHSTAR_LOADTEST_EXPERIMENT: the experiment exposures point at and the PM reads
  (default `loadtest-checkout`);
- NORTHSTAR_LOADTEST_MAX_WAIT: an app's longest pause between two batches, seconds (0.2).

Scenarios are locust tags: `ingest` runs only the apps' batches; `mixed` adds the PMs' reads
(results, events, trends with breakdowns, the catalog: insights past their limits answer
429/503, which counts as the shedding it is, not a failure) and, with an SDK key and when the collector serves it, the SDKs' polling of experiment definitions. An app
behaves as the SDK does: 503/429/5xx/no answer → wait (Retry-After) and send the same bytes
again; and ~5% of acknowledged batches are resent unchanged, as after a client timeout.
"""

from __future__ import annotations

import logging
import os
import random
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, events, tag, task
from locust.contrib.fasthttp import FastResponse
from locust.env import Environment
from locust.user.task import filter_tasks_by_tags

from loadtests.acks import ACK_DIR_ENV, AckWriter
from loadtests.traffic import CONVERSION_EVENT, DEFINITIONS_PATH, Batch, BatchFactory

RESEND_SHARE = 0.05
_MAX_RETRY_SECONDS = 30.0

_experiment_key = os.environ.get("NORTHSTAR_LOADTEST_EXPERIMENT", "loadtest-checkout")
_write_key = os.environ.get("NORTHSTAR_WRITE_KEY", "")
_admin_secret = os.environ.get("NORTHSTAR_ADMIN_SECRET", "")
_sdk_key = os.environ.get("NORTHSTAR_SDK_KEY", "")  # definitions need the server-side SDK key
_ack_dir = os.environ.get(ACK_DIR_ENV)


class SdkApp(FastHttpUser):
    """One app process whose SDK flushes a batch whenever its timer fires."""

    wait_time = between(0.0, float(os.environ.get("NORTHSTAR_LOADTEST_MAX_WAIT", "0.2")))
    acks: AckWriter | None = None  # this process's, opened at init when an ack directory is given

    def on_start(self) -> None:
        self._batches = BatchFactory(_experiment_key, random.Random())

    @tag("ingest", "mixed")
    @task(20)
    def send_batch(self) -> None:
        batch = self._batches.batch()
        if self._deliver(batch, "/v1/batch") and random.random() < RESEND_SHARE:
            self._deliver(batch, "/v1/batch (resend)")

    @tag("mixed")
    @task(1)
    def poll_definitions(self) -> None:
        self.client.get(DEFINITIONS_PATH, auth=(_sdk_key, ""))

    def _deliver(self, batch: Batch, name: str) -> bool:
        """POST until acknowledged or refused for good; True once acknowledged."""
        attempt = 0
        while True:
            with self.client.post(
                "/v1/batch", data=batch.body,  # type: ignore[arg-type]  # bytes are sent as they are
                headers=batch.headers, auth=(_write_key, ""),
                name=name, catch_response=True,
            ) as response:
                if response.status_code == 200:
                    self._acknowledge(batch, response)
                    return True
                retryable = response.status_code in (0, 429) or response.status_code >= 500
                response.failure(f"HTTP {response.status_code}" if response.status_code else response.error)
            if not retryable:
                return False
            gevent.sleep(_retry_delay(response, attempt))
            attempt += 1

    def _acknowledge(self, batch: Batch, response: FastResponse) -> None:
        rejected = {rejection["index"] for rejection in response.json()["rejected"]}
        if rejected:
            response.failure(f"{len(rejected)} events rejected")
        if self.acks is not None:
            self.acks.record(m for index, m in enumerate(batch.message_ids) if index not in rejected)


class ProductManager(FastHttpUser):
    """Someone refreshing the experiment's results page while data flows in."""

    fixed_count = 1
    wait_time = between(1.0, 3.0)

    @tag("mixed")
    @task(3)
    def read_results(self) -> None:
        self.client.get(f"/v1/experiments/{_experiment_key}/results", headers=self._bearer(),
                        name="/v1/experiments/[key]/results")

    @tag("mixed")
    @task(1)
    def explore_conversions(self) -> None:
        self.client.get("/v1/events?event=Order%20Completed&limit=50", headers=self._bearer(),
                        name="/v1/events?event=[conversion]")

    def _bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {_admin_secret}"}


class InsightAnalyst(FastHttpUser):
    """A PM exploring trends of the traffic being ingested (the analytical limits bound them)."""

    fixed_count = 2
    wait_time = between(0.5, 2.0)

    @tag("mixed")
    @task(3)
    def persons_by_day(self) -> None:
        self._trends({"series": [{"event": "Product Viewed", "math": "persons"},
                                 {"event": CONVERSION_EVENT, "math": "total"}],
                      "breakdown": {"property": "category"}}, "/v1/insights/trends (persons by category)")

    @tag("mixed")
    @task(1)
    def weekly_actives(self) -> None:
        self._trends({"series": [{"event": "Search Performed", "math": "wau"}]}, "/v1/insights/trends (wau)")

    @tag("mixed")
    @task(1)
    def catalog(self) -> None:
        self.client.get("/v1/catalog/events", headers={"Authorization": f"Bearer {_admin_secret}"})

    def _trends(self, query: dict[str, Any], name: str) -> None:
        today = datetime.now(timezone.utc).date()
        body = {**query, "date_from": (today - timedelta(days=6)).isoformat(), "date_to": today.isoformat()}
        with self.client.post("/v1/insights/trends", json=body, headers={"Authorization": f"Bearer {_admin_secret}"},
                              name=name, catch_response=True) as response:
            if response.status_code in (429, 503):  # shed by the analytical limits, as designed
                response.success()


def _retry_delay(response: FastResponse, attempt: int) -> float:
    """Retry-After when the collector sent one, else jittered exponential backoff."""
    retry_after = response.headers.get("Retry-After") if response.headers else None
    if isinstance(retry_after, str) and retry_after.isdigit():
        return min(float(retry_after), _MAX_RETRY_SECONDS)
    return min(0.1 * 2**attempt, _MAX_RETRY_SECONDS) * random.uniform(0.5, 1.0)


def _route_exists(url: str) -> bool:
    """Whether the collector answers `url` with anything but 404 (no answer: no)."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError as error:
        return error.code != 404
    except OSError:
        return False


@events.init.add_listener
def _prepare(environment: Environment, **_: Any) -> None:
    """Open this process's ack file; drop what the collector or the --tags cannot run."""
    if _ack_dir:
        SdkApp.acks = AckWriter(Path(_ack_dir))
    if not _sdk_key:
        logging.warning("no SDK key (NORTHSTAR_SDK_KEY): SDK definition polling left out")
        SdkApp.tasks = [t for t in SdkApp.tasks if t is not SdkApp.poll_definitions]
    elif environment.host and not _route_exists(environment.host.rstrip("/") + DEFINITIONS_PATH):
        logging.warning("GET %s answered 404: SDK definition polling left out", DEFINITIONS_PATH)
        SdkApp.tasks = [t for t in SdkApp.tasks if t is not SdkApp.poll_definitions]
    options = environment.parsed_options
    tags = set(options.tags) if options and options.tags else None
    exclude = set(options.exclude_tags) if options and options.exclude_tags else None
    for user_class in environment.user_classes:
        filter_tasks_by_tags(user_class, tags, exclude)
    environment.user_classes[:] = [u for u in environment.user_classes if u.tasks]


@events.test_stop.add_listener
def _flush_acks(**_: Any) -> None:
    if SdkApp.acks is not None:
        SdkApp.acks.flush()


@events.quitting.add_listener
def _close_acks(**_: Any) -> None:
    if SdkApp.acks is not None:
        SdkApp.acks.close()
