"""The demo: a real experiment through every component, on a temporary embedded store.

Starts the server on 127.0.0.1, defines a revenue metric and an experiment and starts it;
simulated users get their variant from the SDK's `get_variant` (evaluated locally from the
definitions the SDK fetched, logging the exposure) and send events over HTTP (the treatment
has a true lift on conversion); then it waits until every event is in ClickHouse and prints
the results the API serves.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sdk
from collector.admin_client import AdminClient
from collector.settings import CollectorSettings, default_clickhouse_dsn
from experiments.report import render_table
from northstar.process import free_port
from northstar.runner import BackgroundServer

__all__ = ["run_demo", "simulate_experiment", "DemoExperiment", "DEMO_EXPERIMENT", "REVENUE_METRIC"]


@dataclass(frozen=True)
class DemoExperiment:
    key: str
    conversion_event: str
    conversion_rates: dict[str, float]

    def definition(self) -> dict[str, object]:
        share = 1.0 / len(self.conversion_rates)
        return {
            "key": self.key,
            "name": "New checkout button",
            "conversion_event": self.conversion_event,
            "metrics": [REVENUE_METRIC["key"]],
            "variants": [{"key": key, "weight": share} for key in self.conversion_rates],
        }


REVENUE_METRIC = {
    "key": "revenue",
    "name": "Revenue per user",
    "kind": "mean",
    "event": "Order Completed",
    "property": "revenue",
}


DEMO_EXPERIMENT = DemoExperiment(
    key="checkout-button",
    conversion_event="Order Completed",
    conversion_rates={"control": 0.10, "treatment": 0.13},
)


def simulate_experiment(
    client: sdk.Client, experiment: DemoExperiment, users: int, seed: int
) -> dict[str, dict[str, int]]:
    """Send exposures, page views and conversions for `users` users through `client`.

    Returns per variant the users exposed and the users who converted, as sent.
    """
    rng = random.Random(seed)
    sent = {variant: {"units": 0, "conversions": 0} for variant in experiment.conversion_rates}
    for number in range(users):
        user_id = f"demo-user-{number}"
        client.track(user_id, "Page Viewed", {"path": "/cart"})
        variant = client.get_variant(experiment.key, user_id).variant  # logs the exposure
        if variant not in sent:
            raise RuntimeError(f"the SDK has no definition of {experiment.key} (got {variant!r})")
        sent[variant]["units"] += 1
        if rng.random() < experiment.conversion_rates[variant]:
            client.track(user_id, experiment.conversion_event, {"revenue": round(rng.uniform(5, 80), 2)})
            sent[variant]["conversions"] += 1
    return sent


def run_demo(users: int, port: int, keep: bool, seed: int) -> int:
    started = time.perf_counter()
    data_dir = Path(tempfile.mkdtemp(prefix="northstar-demo-"))
    settings = CollectorSettings(
        data_dir=data_dir,
        clickhouse_dsn=default_clickhouse_dsn(data_dir),
        write_keys=frozenset({"demo-write-key"}),
        admin_secret="demo-admin-secret",
        port=port or free_port(),
    )
    server = BackgroundServer(settings)
    server.start()
    print(f"Collector on {server.url}, embedded ClickHouse (chDB) in {data_dir}")
    try:
        api = AdminClient(server.url, settings.admin_secret)
        api.save_metric(REVENUE_METRIC)
        api.save_experiment(DEMO_EXPERIMENT.definition())
        api.start_experiment(DEMO_EXPERIMENT.key)
        rates = ", ".join(f"{key} {rate:.0%}" for key, rate in DEMO_EXPERIMENT.conversion_rates.items())
        print(f"Experiment {DEMO_EXPERIMENT.key}: true conversion rates {rates}")
        print(f"Simulating {users:,} users through the SDK over HTTP ...")
        # The queue holds the whole simulation: a tight loop outruns any network.
        client = sdk.Client("demo-write-key", host=server.url, sdk_key="demo-write-key", max_queue_size=4 * users)
        client.wait_for_definitions(timeout=30)
        simulated = simulate_experiment(client, DEMO_EXPERIMENT, users, seed)
        client.flush()
        delivery = client.stats()
        sent = delivery.sent
        client.shutdown()
        api.wait_until_stored()
        stored = api.events(limit=0)["total"]
        print()
        print(render_table(api.results(DEMO_EXPERIMENT.key)))
        print()
        truth = ", ".join(f"{variant} {counts['conversions']:,}/{counts['units']:,}"
                          for variant, counts in simulated.items())
        print(f"Simulated conversions/users: {truth}")
        print(f"{sent:,} events sent through the SDK ({delivery.dropped_total:,} dropped), "
              f"{stored:,} stored in ClickHouse; demo took {time.perf_counter() - started:.1f}s")
        if keep:
            print(f"Serving on {server.url} (write key demo-write-key, admin secret "
                  f"{settings.admin_secret}); Ctrl-C to stop.")
            _wait_forever()
    finally:
        server.stop()
        if not keep:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if stored == sent and delivery.dropped_total == 0 else 1


def _wait_forever() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
