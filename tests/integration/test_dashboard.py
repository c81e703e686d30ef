"""The dashboard in real headless chromium: sign in, list, results; numbers (and the ECharts
charts' data) equal the JSON API, and a harmed guardrail shows a red "do not ship" banner."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from browser import sync_playwright_api
from experiments.formatting import format_interval, format_p, format_values
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient

pytestmark = pytest.mark.browser

START = datetime(2026, 6, 1, tzinfo=timezone.utc)
SCREENSHOT = "/tmp/northstar-dashboard.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _event(user: str, name: str, at: datetime, **properties: object) -> dict:
    return {"type": "track", "event": name, "userId": user, "timestamp": at.isoformat(),
            "properties": properties, "messageId": uuid.uuid4().hex}


def _experiment(collector: CollectorProcess, api: AdminClient) -> str:
    key = f"dash-{uuid.uuid4().hex[:8]}"
    order, error = f"Order {key}", f"Error {key}"
    metric = {"key": f"{key}-revenue", "name": "Revenue per user", "kind": "mean", "event": order, "property": "revenue"}
    guardrail = {"key": f"{key}-errors", "name": "Errors per user", "kind": "count", "event": error,
                 "higher_is_better": False}
    api.save_metric(metric)
    api.save_metric(guardrail)
    api.save_experiment({"key": key, "name": "Checkout button", "conversion_event": order,
                         "metrics": [metric["key"]], "guardrail_metrics": [guardrail["key"]], "mde": 0.1,
                         "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]})
    events = []
    for n in range(800):
        user, variant = f"{key}-u{n}", ("control", "treatment")[n % 2]
        exposed = START + timedelta(hours=n % 120)
        events.append(_event(user, "Experiment Viewed", exposed, experiment_id=key, variation_id=variant))
        if n % (5 if variant == "treatment" else 8) == 0:
            events.append(_event(user, order, exposed + timedelta(hours=1), revenue=20.0 + n % 13))
        if (n // 2) % (3 if variant == "treatment" else 10) == 0:
            events.append(_event(user, error, exposed + timedelta(minutes=30)))
    for start in range(0, len(events), 500):
        httpx.post(collector.url + "/v1/import", json={"batch": events[start:start + 500]},
                   auth=(collector.write_key, "")).raise_for_status()
    api.wait_until_stored()
    return key


def test_dashboard_shows_the_api_numbers_without_console_errors(collector: CollectorProcess, api: AdminClient) -> None:
    playwright_api = sync_playwright_api()
    key = _experiment(collector, api)
    document = api.results(key)
    assert httpx.get(f"{collector.url}/dashboard/experiments/{key}").status_code == 303  # no secret, no data

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))

        page.goto(f"{collector.url}/dashboard")
        assert page.url.endswith("/dashboard/login")
        page.fill("#secret", collector.admin_secret)
        page.click("button[type=submit]")
        page.wait_for_url(f"{collector.url}/dashboard")
        assert key in page.inner_text("#experiments")

        page.click(f"a[href='/dashboard/experiments/{key}']")
        page.wait_for_selector("#verdict")
        assert page.inner_text("#verdict") == document["verdict"]
        assert document["verdict"].startswith("Guardrail Errors per user is worse in treatment")
        assert page.inner_text(".banner.guardrail").startswith(
            "Do not ship treatment: guardrail Errors per user is worse (+")
        assert "Traffic split as configured" in page.inner_text("#srm")
        for metric in document["metrics"]:
            section = page.locator(f"section.metric[data-metric='{metric['key']}']")
            values = format_values(metric["kind"], [variant["value"] for variant in metric["variants"]])
            for variant, value in zip(metric["variants"], values):
                cells = section.locator(f"tr[data-variant='{variant['key']}'] td").all_inner_texts()
                assert cells[1] == f"{variant['units']:,}"
                assert cells[2] == value
            (comparison,) = metric["comparisons"]
            cells = section.locator("tr[data-variant='treatment'] td").all_inner_texts()
            absolute = format_interval(metric["kind"], comparison["absolute_effect"], *comparison["absolute_ci"])
            assert cells[3] == absolute
            assert cells[5] == format_p(comparison["p_value"])
            assert cells[7] == comparison["verdict"]
        assert section.locator("h2").inner_text().startswith("Guardrail: Errors per user")
        page.wait_for_selector("#forest-chart canvas")
        series = "id => echarts.getInstanceByDom(document.getElementById(id)).getOption().series"
        assert page.evaluate(f"{series}[1].data.length", "forest-chart") == 3
        assert page.evaluate(f"{series}.map(s => s.data)", "exposure-chart") == list(
            document["timeline"]["exposures"].values())
        page.screenshot(path=SCREENSHOT, full_page=True)
        browser.close()
    assert errors == []
