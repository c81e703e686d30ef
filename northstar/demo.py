"""The demo: a real experiment through every component, on a temporary embedded store.

Starts the server on 127.0.0.1, defines a revenue metric and an experiment and starts it;
simulated users get their variant from the SDK's `get_variant` (evaluated locally from the
definitions the SDK fetched, logging the exposure) and send events over HTTP (the treatment
has a true lift on conversion); then it waits until every event is in ClickHouse and prints
the results the API serves.

Before the experiment, the same users signed up over the last two weeks, through a launch a
week ago that doubled signups and brought in the team plan (`Signed Up` with their `plan`,
dated on their signup day): the demo prints that trend, persons per day by plan, as the
insights API answers it, and saves it as an insight the dashboard lists.

Beside them, customers use the product for four weeks, a price change drives free customers
away and they say so in the NPS survey (`northstar.demo_customers`): the demo prints lifecycle
with churn, NPS by plan with verbatims, the top journeys and the cohorts' sizes.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import msgspec

import sdk
from collector.settings import CollectorSettings, default_clickhouse_dsn
from experiments.report import render_table
from insights.report import render_trends
from insights.trends import TrendsResult
from northstar.admin_client import AdminClient
from northstar.demo_customers import print_customer_story, simulate_customers
from northstar.ports import free_port
from northstar.runner import BackgroundServer

__all__ = ["run_demo", "simulate_experiment", "simulate_signups", "signup_trend_query", "DemoExperiment",
           "DEMO_EXPERIMENT", "REVENUE_METRIC", "SIGNUP_DAYS", "LAUNCH_DAY"]


@dataclass(frozen=True)
class DemoExperiment:
    """The simulated experiment: its key, conversion event and each variant's true conversion rate."""

    key: str
    conversion_event: str
    conversion_rates: dict[str, float]

    def definition(self) -> dict[str, object]:
        """The experiment's definition as the API takes it: equal weights, the conversion event."""
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


SIGNUP_DAYS = 14
LAUNCH_DAY = 7
"""Signups span the last `SIGNUP_DAYS` days (today included); the launch was `LAUNCH_DAY` days ago."""


def simulate_signups(client: sdk.Client, users: int, seed: int, today: dt.date) -> None:
    """Each user signed up on one of the last `SIGNUP_DAYS` days: twice as likely per day since the
    launch, which also brought the team plan; identified with the plan they chose."""
    rng = random.Random(seed + 1)
    days = [today - dt.timedelta(days=n) for n in range(SIGNUP_DAYS)]
    weights = [2.0 if n < LAUNCH_DAY else 1.0 for n in range(SIGNUP_DAYS)]
    for number in range(users):
        user_id = f"demo-user-{number}"
        day = rng.choices(days, weights)[0]
        launched = (today - day).days < LAUNCH_DAY
        plan = rng.choices(["free", "pro", "team"], [6, 3, 2 if launched else 0])[0]
        at = dt.datetime.combine(day, dt.time(9), dt.timezone.utc) + dt.timedelta(seconds=rng.randrange(12 * 3600))
        at = min(at, dt.datetime.now(dt.timezone.utc))
        client.identify(user_id, {"plan": plan}, timestamp=at)
        client.track(user_id, "Signed Up", {"plan": plan, "source": rng.choice(["ads", "search", "referral"])},
                     timestamp=at)


def signup_trend_query(today: dt.date) -> dict[str, object]:
    """The demo's trend: persons signing up per day over the last two weeks, by plan."""
    return {"series": [{"event": "Signed Up", "math": "persons"}], "interval": "day",
            "date_from": (today - dt.timedelta(days=SIGNUP_DAYS - 1)).isoformat(), "date_to": today.isoformat(),
            "breakdown": {"property": "plan"}}


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
        # The queue holds the whole simulation (up to 5 messages a user, and the customers' story): a tight
        # loop outruns any network.
        client = sdk.Client("demo-write-key", host=server.url, sdk_key="demo-sdk-key-0123456",
                            max_queue_size=max(8 * users, 5_000))
        client.wait_for_definitions(timeout=30)
        today = dt.datetime.now(dt.timezone.utc).date()
        simulate_signups(client, users, seed, today)
        simulated = simulate_experiment(client, DEMO_EXPERIMENT, users, seed)
        simulate_customers(client, users, seed, today)
        client.flush()
        delivery = client.stats()
        sent = delivery.sent
        client.shutdown()
        api.wait_until_stored()
        stored = api.events(limit=0)["total"]
        print()
        trend = signup_trend_query(today)
        api.save_insight({"key": "signups-by-plan", "name": "Signups by plan", "query": trend})
        print(f"Signups by plan (persons per day; the launch was {LAUNCH_DAY} days ago):")
        print(render_trends(msgspec.convert(api.trends(trend), TrendsResult)))
        print()
        print(render_table(api.result_document(DEMO_EXPERIMENT.key)))
        print()
        print_customer_story(api, today)
        print()
        truth = ", ".join(f"{variant} {counts['conversions']:,}/{counts['units']:,}"
                          for variant, counts in simulated.items())
        print(f"Simulated conversions/users: {truth}")
        print(f"{sent:,} events sent through the SDK ({delivery.dropped_total:,} dropped), "
              f"{stored:,} stored in ClickHouse; demo took {time.perf_counter() - started:.1f}s")
        if keep:
            print(f"Serving on {server.url} (write key demo-write-key, admin secret "
                  f"{settings.admin_secret}); Ctrl-C to stop.")
            print(f"Customer health (after signing in): {server.url}/dashboard/customer")
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
