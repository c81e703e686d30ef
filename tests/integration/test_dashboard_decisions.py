"""The results page as a PM reads it, in real headless chromium at desktop and phone widths:
the decision first, Bayesian pages in Bayesian terms, zero traffic not shown as healthy, one
day of data charted, three arms labelled, and no table wider than its card."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from browser import sync_playwright_api
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient
from test_dashboard import CHROMIUM_ARGS

pytestmark = pytest.mark.browser

DAY = datetime(2026, 7, 1, tzinfo=timezone.utc)
WIDTHS = {"desktop": 1280, "phone": 390}


def _three_arm_bayesian(collector: CollectorProcess, api: AdminClient) -> str:
    """One day of exposures, three arms: the treatments convert more than control."""
    key = f"dash3-{uuid.uuid4().hex[:8]}"
    order = f"Order {key}"
    api.save_experiment({"key": key, "name": "Three checkout buttons with a rather long name", "conversion_event": order,
                         "owner": "pm@example.com", "hypothesis": "A clearer button sells more",
                         "analysis": {"method": "bayesian"},
                         "variants": [{"key": "control", "weight": 0.34}, {"key": "green-button", "weight": 0.33},
                                      {"key": "big-green-button", "weight": 0.33}]})
    events = []
    for n in range(900):
        user, variant = f"{key}-u{n}", ("control", "green-button", "big-green-button")[n % 3]
        exposed = DAY + timedelta(minutes=n)
        events.append({"type": "track", "event": "Experiment Viewed", "userId": user, "timestamp": exposed.isoformat(),
                       "properties": {"experiment_id": key, "variation_id": variant}, "messageId": uuid.uuid4().hex})
        if n % (3 * (4 if variant == "control" else 2)) < 3:
            events.append({"type": "track", "event": order, "userId": user, "messageId": uuid.uuid4().hex,
                           "timestamp": (exposed + timedelta(minutes=5)).isoformat(), "properties": {}})
    httpx.post(collector.url + "/v1/import", json={"batch": events}, auth=(collector.write_key, "")).raise_for_status()
    api.wait_until_stored()
    return key


def test_results_pages_read_right_at_desktop_and_phone_widths(collector: CollectorProcess, api: AdminClient) -> None:
    playwright_api = sync_playwright_api()
    bayesian = _three_arm_bayesian(collector, api)
    empty = f"empty-{uuid.uuid4().hex[:8]}"
    api.save_experiment({"key": empty, "conversion_event": "Nothing",
                         "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]})
    document = api.results(bayesian)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for device, width in WIDTHS.items():
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{collector.url}/dashboard?token={collector.admin_secret}")
            page.goto(f"{collector.url}/dashboard/experiments/{bayesian}")
            page.wait_for_selector("#decision")
            text = page.inner_text("main")
            assert page.inner_text("#verdict") == document["verdict"]
            assert "alpha" not in text and "correction" not in text and "95% CI" not in text
            assert "95% credible" in text
            assert "pm@example.com" in text and "A clearer button sells more" in text
            assert "Started" in page.inner_text("#about")
            lines = page.evaluate(
                "() => echarts.getInstanceByDom(document.getElementById('lift-chart-0')).getOption().series"
                ".filter(s => s.endLabel && s.endLabel.show)"
                ".map(s => ({name: s.name, dot: s.showSymbol, points: s.data.filter(v => v != null).length}))")
            # each treatment's line is labelled with its name; one day of data still shows (a dot)
            assert sorted(line["name"] for line in lines) == ["big-green-button", "green-button"]
            assert all(line["dot"] and line["points"] == 1 for line in lines)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            overflowing = page.evaluate(
                "[...document.querySelectorAll('section.card')].filter(c => c.scrollWidth > c.clientWidth).length")
            assert overflowing == 0
            if device == "desktop":  # wide enough: the tables need no scrolling at all
                page.screenshot(path=f"/tmp/northstar-decision-{device}.png", full_page=True)
                assert page.evaluate("[...document.querySelectorAll('.table-scroll')]"
                                     ".every(t => t.scrollWidth <= t.clientWidth)")
            page.screenshot(path=f"/tmp/northstar-decision-{device}.png", full_page=True)

            page.goto(f"{collector.url}/dashboard/experiments/{empty}")
            page.wait_for_selector("#srm")
            assert page.get_attribute("#srm", "class") == "banner neutral"
            assert page.inner_text("#decision .headline").startswith("Keep running")
            page.close()
        browser.close()
