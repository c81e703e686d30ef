"""The README's main job and the SDK path, end to end over real HTTP."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import sdk
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient


def test_demo_prints_a_keep_running_and_a_ship_decision_for_every_event_it_sent() -> None:
    """README command 1 (default users and seed): the live experiment, read at a small share of
    its planned sample, says keep running; the one with two weeks of history at its planned
    sample says ship; every table row is what was simulated; the signup trend counts each
    signed-up user once, every day present."""
    completed = subprocess.run(
        [sys.executable, "-m", "northstar", "demo"], capture_output=True, text=True, timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    output = completed.stdout
    sent, dropped, stored = re.search(
        r"([\d,]+) events sent through the SDK \(([\d,]+) dropped\), ([\d,]+) stored", output
    ).groups()
    assert sent == stored and dropped == "0" and int(sent.replace(",", "")) > 40_000
    live, history = re.split(r"\nExperiment (?=\S+ · )", output)[1:]
    assert live.startswith("checkout-button · fixed analysis")
    assert re.search(r"^Decision: Keep running \(about \d+ more days\): too early to call: \d+% of planned sample",
                     live, re.MULTILINE)
    assert "WIN" in live and "Ship" not in live  # a big lift, but read far too early
    assert history.startswith("shipping-banner · fixed analysis")
    assert re.search(r"^Decision: Ship: treatment beats control on conversion: Order Completed \(\+", history,
                     re.MULTILINE)
    assert re.search(r"^Planned sample: 100% of [\d,]+ units per variant · runtime 14\.0 ", history, re.MULTILINE)
    for block in (live, history):
        assert re.search(r"^control\s+[\d,]+\s+[\d,]+\s+[\d.]+%\s+\(control\)", block, re.MULTILINE)
        assert re.search(r"^treatment\s+[\d,]+\s+[\d,]+\s+[\d.]+%\s+[+-][\d.]+pp \[", block, re.MULTILINE)
        simulated = dict(re.findall(r"(control|treatment) ([\d,]*\d/[\d,]*\d)", block.split("Simulated")[1]))
        for variant, fraction in simulated.items():
            conversions, units = fraction.split("/")
            row = re.search(rf"^{variant}\s+{units}\s+{conversions}\s", block, re.MULTILINE)
            assert row, f"results for {variant} differ from what was simulated ({fraction})"
        signed_up = re.search(r"signed up mid-way .*: control ([\d,]+), treatment ([\d,]+)", block)
        assert signed_up and all(int(n.replace(",", "")) > 0 for n in signed_up.groups())  # one unit each above
    trend = output.split("Signups by plan")[1].split("Checkout funnel")[0]
    rows = re.findall(r"^(\d{4}-\d\d-\d\d)((?:\s+[\d,]+){3})$", trend, re.MULTILINE)
    assert len(rows) == 14  # every day of the two weeks, zeros included
    assert sum(int(n.replace(",", "")) for _, cells in rows for n in cells.split()) == 10_000  # each signed up once
    assert [int(cells.split()[2]) for _, cells in rows[:7]] == [0] * 7  # the team plan came with the launch
    funnel = output.split("Checkout funnel")[1].split("Customers opening the app")[0]
    steps = re.findall(r"^(\d)\. (Page Viewed|Order Completed)\s+([\d,]+)\s", funnel, re.MULTILINE)
    units = sum(int(units.replace(",", "")) for _, units in re.findall(r"(control|treatment) [\d,]+/([\d,]+)", output))
    conversions = sum(int(c.replace(",", "")) for _, c in re.findall(r"(control|treatment) ([\d,]+)/[\d,]+", output))
    assert [s[:2] for s in steps] == [("1", "Page Viewed"), ("2", "Order Completed")]
    assert int(steps[0][2].replace(",", "")) == units  # one cart view per simulated user
    assert int(steps[1][2].replace(",", "")) == conversions  # visitors who signed up count as one person
    grid = output.split("Customers opening the app, by week:")[1].split("Customers: lifecycle")[0]
    cohorts = re.findall(r"^(\d{4}-\d\d-\d\d)\s+([\d,]+)\s+(100%|-)", grid, re.MULTILINE)
    assert len(cohorts) == 4 and all(int(size.replace(",", "")) > 0 for _, size, _ in cohorts)
    customers = output.split("Customers: lifecycle")[1]
    weeks = re.findall(r"^(\d{4}-\d\d-\d\d)((?:\s+[\d,]+){5})\s+(–|[\d.]+%)$", customers.split("Churn:")[0], re.MULTILINE)
    assert len(weeks) == 4 and weeks[0][2] == "–"  # four full weeks; nobody to lose in the first
    before, after = (float(v) for v in re.search(r"Churn: ([\d.]+)% the week before .*, ([\d.]+)% the week after",
                                                 customers).groups())
    assert after > before  # the price change drove customers away
    assert re.search(r"^all\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+[\d,]+\s+[+-]\d+ ± \d+", customers, re.MULTILINE)
    assert re.search(r"^free\s+.*\s-\d+ ± \d+", customers, re.MULTILINE)  # free customers are detractors now
    assert "Latest answers:" in customers and re.search(r"^1_Opened App\s+2_Dashboard\s", customers, re.MULTILINE)
    assert re.search(r"Cohort free-gone-quiet .*\npersons now: [1-9]", customers)


def test_events_sent_through_the_sdk_are_stored_exactly_once(
    collector: CollectorProcess, api: AdminClient
) -> None:
    user = f"sdk-user-{uuid.uuid4().hex[:10]}"
    client = sdk.Client(collector.write_key, host=collector.url)
    for n in range(1_000):
        client.track(user, "Button Clicked", {"n": n, "label": "buy"})
    client.identify(user, {"plan": "pro"})
    client.flush()
    client.shutdown()

    api.wait_until_stored()
    clicks = api.events(user_id=user, event="Button Clicked", limit=1000)
    assert clicks["total"] == 1_000
    assert sorted(json.loads(e["properties"])["n"] for e in clicks["events"]) == list(range(1_000))
    assert all(json.loads(e["context"])["library"]["name"] == "northstar-python" for e in clicks["events"])
    everything = api.events(user_id=user, limit=1)
    assert everything["total"] == 1_001
    (identify,) = api.events(user_id=user, type="identify")["events"]
    assert json.loads(identify["traits"]) == {"plan": "pro"}
