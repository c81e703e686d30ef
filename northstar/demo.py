"""The demo: a real experiment through every component, on a temporary embedded store.

Starts the server on 127.0.0.1, defines a revenue metric and an experiment and starts it;
simulated users get their variant from the SDK's `get_variant` (evaluated locally from the
definitions the SDK fetched, logging the exposure) and send events over HTTP (the treatment
has a true lift on conversion); then it waits until every event is in ClickHouse and prints
the results the API serves. Some users are visitors who sign up mid-way: exposed under their
device's anonymous id, they identify and convert under their user id. The experiment buckets
by the anonymous id, so the variant does not change at login, and counts persons, so each
such visitor is one unit whose conversion counts.
"""

from __future__ import annotations

import random
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import sdk
from collector.settings import CollectorSettings, default_clickhouse_dsn
from experiments.report import render_table
from northstar.admin_client import AdminClient
from northstar.ports import free_port
from northstar.runner import BackgroundServer

__all__ = ["run_demo", "simulate_experiment", "DemoExperiment", "DEMO_EXPERIMENT", "REVENUE_METRIC"]


@dataclass(frozen=True)
class DemoExperiment:
    """The simulated experiment: its key, conversion event and each variant's true conversion rate."""

    key: str
    conversion_event: str
    conversion_rates: dict[str, float]
    signup_share: float
    """Share of users who arrive anonymous and sign up after their exposure."""

    def definition(self) -> dict[str, object]:
        """The experiment's definition as the API takes it: equal weights, the conversion event."""
        share = 1.0 / len(self.conversion_rates)
        return {
            "key": self.key,
            "name": "New checkout button",
            "conversion_event": self.conversion_event,
            "bucket_by": "anonymous_id",
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
    signup_share=0.3,
)


def simulate_experiment(
    client: sdk.Client, experiment: DemoExperiment, users: int, seed: int
) -> dict[str, dict[str, int]]:
    """Send exposures, page views, sign-ups and conversions for `users` users through `client`.

    Returns per variant the users exposed, the users who converted and, of those exposed,
    the visitors who signed up after their (anonymous) exposure, as sent.
    """
    rng = random.Random(seed)
    sent = {variant: {"units": 0, "conversions": 0, "signed_up": 0} for variant in experiment.conversion_rates}
    for number in range(users):
        user_id, device = f"demo-user-{number}", f"demo-device-{number}"
        signs_up = rng.random() < experiment.signup_share
        if signs_up:  # a visitor: browses and is exposed anonymously, then signs up
            client.track(None, "Page Viewed", {"path": "/cart"}, anonymous_id=device)
            variant = client.get_variant(experiment.key, None, anonymous_id=device).variant
            client.identify(user_id, {"plan": "free"}, anonymous_id=device)
        else:
            client.track(user_id, "Page Viewed", {"path": "/cart"})
            variant = client.get_variant(experiment.key, user_id, anonymous_id=device).variant  # logs the exposure
        if variant not in sent:
            raise RuntimeError(f"the SDK has no definition of {experiment.key} (got {variant!r})")
        sent[variant]["units"] += 1
        sent[variant]["signed_up"] += signs_up
        if rng.random() < experiment.conversion_rates[variant]:
            client.track(user_id, experiment.conversion_event, {"revenue": round(rng.uniform(5, 80), 2)})
            sent[variant]["conversions"] += 1
    return sent


def run_demo(users: int, port: int, keep: bool, seed: int) -> int:
    """Run the demo; 0 when every simulated event was stored. Its temporary directory is
    removed however it ends (`keep`: serve until Ctrl-C or SIGTERM first)."""
    started = time.perf_counter()
    data_dir = Path(tempfile.mkdtemp(prefix="northstar-demo-"))
    settings = CollectorSettings(
        data_dir=data_dir,
        clickhouse_dsn=default_clickhouse_dsn(data_dir),
        write_keys=frozenset({"demo-write-key"}),
        admin_secret="demo-admin-secret",
        sdk_keys=frozenset({"demo-sdk-key-0123456"}),
        port=port or free_port(),
    )
    server: BackgroundServer | None = None
    try:
        server = BackgroundServer(settings)
        server.start()
        print(f"Collector on {server.url}, embedded ClickHouse (chDB) in {data_dir}", flush=True)
        api = AdminClient(server.url, settings.admin_secret)
        api.save_metric(REVENUE_METRIC)
        api.save_experiment(DEMO_EXPERIMENT.definition())
        api.start_experiment(DEMO_EXPERIMENT.key)
        rates = ", ".join(f"{key} {rate:.0%}" for key, rate in DEMO_EXPERIMENT.conversion_rates.items())
        print(f"Experiment {DEMO_EXPERIMENT.key}: true conversion rates {rates}")
        print(f"Simulating {users:,} users through the SDK over HTTP ...")
        # The queue holds the whole simulation: a tight loop outruns any network.
        client = sdk.Client("demo-write-key", host=server.url, sdk_key="demo-sdk-key-0123456", max_queue_size=4 * users)
        client.wait_for_definitions(timeout=30)
        simulated = simulate_experiment(client, DEMO_EXPERIMENT, users, seed)
        client.flush()
        delivery = client.stats()
        sent = delivery.sent
        client.shutdown()
        api.wait_until_stored()
        stored = api.events(limit=0)["total"]
        print()
        print(render_table(api.result_document(DEMO_EXPERIMENT.key)))
        print()
        truth = ", ".join(f"{variant} {counts['conversions']:,}/{counts['units']:,}"
                          for variant, counts in simulated.items())
        print(f"Simulated conversions/users: {truth}")
        signed_up = ", ".join(f"{variant} {counts['signed_up']:,}" for variant, counts in simulated.items())
        print(f"Of them visitors who signed up mid-way (exposed anonymously, converting identified): {signed_up}")
        print(f"{sent:,} events sent through the SDK ({delivery.dropped_total:,} dropped), "
              f"{stored:,} stored in ClickHouse; demo took {time.perf_counter() - started:.1f}s")
        if keep:
            print(f"Serving on {server.url} (write key demo-write-key, admin secret "
                  f"{settings.admin_secret}); Ctrl-C to stop.")
            print(f"Dashboard: {server.url}/dashboard?token={quote(settings.admin_secret, safe='')}", flush=True)
            _wait_until_stopped()
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)  # --keep keeps the server, not the temporary store
    return 0 if stored == sent and delivery.dropped_total == 0 else 1


def _wait_until_stopped() -> None:
    """Until Ctrl-C or SIGTERM; the caller then stops the server and removes its directory."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
