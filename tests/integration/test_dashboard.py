"""The dashboard in real headless chromium: sign in, list, results; numbers (and the ECharts
charts' data) equal the JSON API, and a harmed guardrail shows a red "do not ship" banner."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from browser import sync_playwright_api
from experiments.formatting import format_interval, format_p, format_total, format_values
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient

pytestmark = pytest.mark.browser

START = datetime(2026, 6, 1, tzinfo=timezone.utc)
SCREENSHOT = "/tmp/northstar-dashboard.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _open_page(playwright: Any, height: int) -> tuple[Any, Any, list[str]]:
    """Chromium, a page of 1200 x `height`, and the console and page errors it collects."""
    browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1200, "height": height})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return browser, page, errors


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
        browser, page, errors = _open_page(playwright, 900)

        page.goto(f"{collector.url}/dashboard")
        assert page.url.endswith("/dashboard/login")
        page.fill("#secret", collector.admin_secret)
        page.click("button[type=submit]")
        page.wait_for_url(f"{collector.url}/dashboard")
        assert key in page.inner_text("#experiments")

        page.click(f"a[href='/dashboard/experiments/{key}']")
        page.wait_for_selector("#verdict")
        assert page.inner_text("#verdict") == document["verdict"]
        assert document["verdict"].startswith("Don't ship: guardrail Errors per user is significantly worse in treatment")
        assert page.inner_text("main").count("Errors per user is significantly worse") == 1  # said once
        assert page.inner_text("#decision .headline") == "Don't ship"
        assert "Traffic split as configured" in page.inner_text("#srm")
        for metric in document["metrics"]:
            section = page.locator(f"section.metric[data-metric='{metric['key']}']")
            values = format_values(metric["kind"], [variant["value"] for variant in metric["variants"]])
            for variant, value in zip(metric["variants"], values):
                cells = section.locator(f"tr[data-variant='{variant['key']}'] td").all_inner_texts()
                assert cells[1] == f"{variant['units']:,}"
                assert cells[2] == format_total(variant["total"])
                assert cells[3] == value
            (comparison,) = metric["comparisons"]
            cells = section.locator("tr[data-variant='treatment'] td").all_inner_texts()
            absolute = format_interval(metric["kind"], comparison["absolute_effect"], *comparison["absolute_ci"])
            assert cells[4] == absolute
            assert cells[6] == format_p(comparison["p_value"])
            assert cells[8] == comparison["verdict"]
        assert section.locator("h2").inner_text().startswith("Guardrail: Errors per user")
        page.wait_for_selector("#forest-chart canvas")
        series = "id => echarts.getInstanceByDom(document.getElementById(id)).getOption().series"
        assert page.evaluate(f"{series}[1].data.length", "forest-chart") == 3
        assert page.evaluate(f"{series}.map(s => s.data)", "exposure-chart") == list(
            document["timeline"]["exposures"].values())
        page.screenshot(path=SCREENSHOT, full_page=True)
        browser.close()
    assert errors == []


PERSON_SCREENSHOT = "/tmp/northstar-person.png"
PERSONS_SCREENSHOT = "/tmp/northstar-persons.png"


def test_person_pages_show_ids_properties_and_events_escaped(collector: CollectorProcess, api: AdminClient) -> None:
    playwright_api = sync_playwright_api()
    tag = uuid.uuid4().hex[:8]
    device, user = f"device-{tag}", f"<b>user</b>-{tag}"
    httpx.post(collector.url + "/v1/import", auth=(collector.write_key, ""), json={"batch": [
        {"type": "page", "anonymousId": device, "name": "/pricing", "timestamp": START.isoformat(), "messageId": f"p-{tag}"},
        {"type": "identify", "userId": user, "anonymousId": device, "timestamp": (START + timedelta(minutes=1)).isoformat(),
         "traits": {"plan": f"pro-{tag}", "note": "<script>alert(1)</script>"}, "messageId": f"i-{tag}"},
        {"type": "track", "userId": user, "event": "Upgraded", "timestamp": (START + timedelta(minutes=2)).isoformat(),
         "messageId": f"t-{tag}"},
    ]}).raise_for_status()
    api.wait_until_stored()
    person = api.person(device)

    with playwright_api.sync_playwright() as playwright:
        browser, page, errors = _open_page(playwright, 800)
        page.goto(f"{collector.url}/dashboard?token={collector.admin_secret}")
        page.goto(f"{collector.url}/dashboard/persons?property=plan&value=pro-{tag}")
        assert page.inner_text("h1") == f"Persons with plan = pro-{tag}"
        assert page.locator("#persons tbody tr").count() == 1
        page.screenshot(path=PERSONS_SCREENSHOT, full_page=True)
        page.click(f"a[href='/dashboard/persons/{person['person_id']}']")
        page.wait_for_selector("#distinct-ids")
        assert page.locator("#distinct-ids li").all_inner_texts() == sorted([device, user])
        assert "<script>alert(1)</script>" in page.inner_text("#properties")  # shown as text
        assert page.locator("#events tbody tr").count() == 3
        page.screenshot(path=PERSON_SCREENSHOT, full_page=True)
        browser.close()
    assert errors == []
