"""The demo: two real experiments through every component, on a temporary embedded store.

Starts the server on 127.0.0.1, defines a revenue metric and two experiments. The first runs
live: simulated users get their variant from the SDK's `get_variant` (evaluated locally from
the definitions the SDK fetched, logging the exposure) and send events over HTTP; read at
once, its fixed-horizon test is far from its planned sample, so the decision is "keep
running". The second has two weeks of history: it is started from a phase start 14 days ago,
the SDK assigns the same way and the exposures and conversions are sent with their times over
those two weeks; it has reached its planned sample and minimum runtime, so its decision is
made. Both treatments have a true lift on conversion. When every event is in ClickHouse it
prints the results the API serves. A third of the users are visitors who sign up mid-way:
exposed under their device's anonymous id, they identify and convert under their user id.
The experiments bucket by the anonymous id, so the variant does not change at login, and
count persons, so each such visitor is one unit whose conversion counts.

Before the experiments, other users signed up over the last two weeks, through a launch a
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
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import msgspec

import sdk
from collector.settings import CollectorSettings, default_clickhouse_dsn
from experiments.report import render_table
from insights.funnels import FunnelResult
from insights.report import render_funnel, render_retention, render_trends
from insights.retention import RetentionResult
from insights.trends import TrendsResult
from northstar.admin_client import AdminClient
from northstar.demo_customers import print_customer_story, simulate_customers, story_weeks
from northstar.ports import free_port
from northstar.runner import BackgroundServer

__all__ = ["run_demo", "simulate_experiment", "simulate_signups", "signup_trend_query", "DemoExperiment",
           "DEMO_EXPERIMENT", "HISTORY_EXPERIMENT", "REVENUE_METRIC", "SIGNUP_DAYS", "LAUNCH_DAY"]


@dataclass(frozen=True)
class DemoExperiment:
    """A simulated experiment: key, name, conversion event, each variant's true conversion rate,
    the relative MDE it is planned for, and the days of history it starts with (0: live)."""

    key: str
    name: str
    conversion_event: str
    conversion_rates: dict[str, float]
    mde: float
    history_days: int = 0
    signup_share: float = 0.3
    """Share of users who arrive anonymous and sign up after their exposure."""

    def definition(self) -> dict[str, object]:
        """The experiment's definition as the API takes it: equal weights, the conversion event,
        revenue as a secondary metric, one week of minimum runtime."""
        share = 1.0 / len(self.conversion_rates)
        return {
            "key": self.key,
            "name": self.name,
            "owner": "demo@example.com",
            "hypothesis": f"{self.name} raises conversion by at least {self.mde:.0%}",
            "conversion_event": self.conversion_event,
            "bucket_by": "anonymous_id",
            "metrics": [REVENUE_METRIC["key"]],
            "mde": self.mde,
            "decision": {"min_runtime_days": 7},
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
    name="New checkout button",
    conversion_event="Order Completed",
    conversion_rates={"control": 0.10, "treatment": 0.13},
    mde=0.05,
)
"""Live and read at once: a big lift, but a small share of the sample a 5 % MDE needs."""

HISTORY_EXPERIMENT = DemoExperiment(
    key="shipping-banner",
    name="Free shipping banner",
    conversion_event="Order Completed",
    conversion_rates={"control": 0.10, "treatment": 0.13},
    mde=0.20,
    history_days=14,
)
"""Two weeks of history, planned for a 20 % MDE: sample and runtime reached."""


def simulate_experiment(
    client: sdk.Client, experiment: DemoExperiment, users: int, seed: int, now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Send exposures, page views, sign-ups and conversions for `users` users through `client`.

    A live experiment (`history_days` 0) logs each exposure through `get_variant`; one with
    history spreads its users evenly over the `history_days` before `now` and sends each
    exposure and conversion with its time. A visitor who signs up browses and is exposed under
    its device's anonymous id, then identifies and converts under its user id. Returns per
    variant the users exposed, the users who converted and the visitors among them who signed
    up mid-way, as sent.
    """
    rng = random.Random(seed)
    sent = {variant: {"units": 0, "conversions": 0, "signed_up": 0} for variant in experiment.conversion_rates}
    now = now or datetime.now(timezone.utc)
    for number in range(users):
        user_id, device = f"demo-{experiment.key}-{number}", f"demo-{experiment.key}-device-{number}"
        at = now - timedelta(days=experiment.history_days) * (1 - number / users) if experiment.history_days else None
        signs_up = rng.random() < experiment.signup_share
        actor = None if signs_up else user_id  # before signing up, a visitor is only its device
        client.track(actor, "Page Viewed", {"path": "/cart"}, anonymous_id=device, timestamp=at)
        variant = client.get_variant(experiment.key, actor, anonymous_id=device, log_exposure=at is None).variant
        if variant not in sent:
            raise RuntimeError(f"the SDK has no definition of {experiment.key} (got {variant!r})")
        if at is not None:
            client.track(actor, "Experiment Viewed", {"experiment_id": experiment.key, "variation_id": variant},
                         anonymous_id=device, timestamp=at)
        if signs_up:
            client.identify(user_id, {"plan": "free"}, anonymous_id=device,
                            timestamp=None if at is None else at + timedelta(minutes=1))
        sent[variant]["units"] += 1
        sent[variant]["signed_up"] += signs_up
        if rng.random() < experiment.conversion_rates[variant]:
            client.track(user_id, experiment.conversion_event, {"revenue": round(rng.uniform(5, 80), 2)},
                         timestamp=None if at is None else at + timedelta(minutes=10))
            sent[variant]["conversions"] += 1
    return sent


_FLUSH_SECONDS = 120.0
"""Time for the SDK to deliver the whole simulation (the default 5 s is for an app's exit; a
busy shared machine needed more than 10 s for ~50k events)."""


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


def print_funnel_and_retention(api: AdminClient, today: dt.date) -> None:
    """The checkout funnel of both experiments' users, and weekly retention of the customers' app opens."""
    funnel = {"steps": [{"event": "Page Viewed", "filters": [{"property": "path", "operator": "equals", "value": "/cart"}]},
                        {"event": "Order Completed"}],
              "date_from": (today - dt.timedelta(days=15)).isoformat(), "date_to": today.isoformat(),
              "window_seconds": 86400}
    print("Checkout funnel (cart page view, then an order within a day; persons over the last 16 days):")
    print(render_funnel(msgspec.convert(api.funnel(funnel), FunnelResult)))
    print()
    weeks = story_weeks(today)
    retention = {"start_event": {"event": "Opened App"}, "return_event": {"event": "Opened App"}, "interval": "week",
                 "periods": len(weeks), "date_from": weeks[0].isoformat(),
                 "date_to": (weeks[-1] + dt.timedelta(days=6)).isoformat()}
    print("Customers opening the app, by week:")
    print(render_retention(msgspec.convert(api.retention(retention), RetentionResult)))


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
        now = datetime.now(timezone.utc)
        experiments = (DEMO_EXPERIMENT, HISTORY_EXPERIMENT)
        for experiment in experiments:
            api.save_experiment(experiment.definition())
            history = now - timedelta(days=experiment.history_days) if experiment.history_days else None
            api.start_experiment(experiment.key, None if history is None else history.isoformat())
            rates = ", ".join(f"{key} {rate:.0%}" for key, rate in experiment.conversion_rates.items())
            since = f", started {experiment.history_days} days ago" if experiment.history_days else ", live"
            print(f"Experiment {experiment.key}: true conversion rates {rates}{since}")
        print(f"Simulating {users:,} users per experiment through the SDK over HTTP ...")
        # The queue holds the whole simulation (signups and the customers' story included): a tight loop outruns any network.
        client = sdk.Client("demo-write-key", host=server.url, sdk_key="demo-sdk-key-0123456",
                            max_queue_size=30 * users)
        client.wait_for_definitions(timeout=30)
        today = now.date()
        simulate_signups(client, users, seed, today)
        simulated = {experiment.key: simulate_experiment(client, experiment, users, seed + number, now)
                     for number, experiment in enumerate(experiments)}
        simulate_customers(client, users, seed, today)
        client.flush(timeout=_FLUSH_SECONDS)
        delivery = client.stats()
        sent = delivery.sent
        client.shutdown()
        api.wait_until_stored()
        stored = api.events(limit=0)["total"]
        for experiment in experiments:
            print()
            print(render_table(api.result_document(experiment.key)))
            truth = ", ".join(f"{variant} {counts['conversions']:,}/{counts['units']:,}"
                              for variant, counts in simulated[experiment.key].items())
            print(f"Simulated conversions/users: {truth}")
            signed_up = ", ".join(f"{variant} {counts['signed_up']:,}"
                                  for variant, counts in simulated[experiment.key].items())
            print(f"Of them visitors who signed up mid-way (exposed anonymously, converting identified): {signed_up}")
        print()
        trend = signup_trend_query(today)
        api.save_insight({"key": "signups-by-plan", "name": "Signups by plan", "query": trend})
        print(f"Signups by plan (persons per day; the launch was {LAUNCH_DAY} days ago):")
        print(render_trends(msgspec.convert(api.trends(trend), TrendsResult)))
        print()
        print_funnel_and_retention(api, today)
        print()
        print_customer_story(api, today)
        print()
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
