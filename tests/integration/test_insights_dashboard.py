"""The Insights page and the ported experiment charts in real headless chromium: ECharts draws
the numbers the API serves, under the strict CSP, with no console error."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from browser import sync_playwright_api
from insights.report import format_value
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient
from test_dashboard import CHROMIUM_ARGS, _experiment
from test_insights_api import sent  # noqa: F401  (the module's events, sent once)

pytestmark = pytest.mark.browser
SCREENSHOT = "/tmp/northstar-insights-{}.png"


def _chart_data(page: Any, element_id: str) -> list[list[float]]:
    return page.evaluate("id => echarts.getInstanceByDom(document.getElementById(id)).getOption().series"
                         ".map(s => s.data)", element_id)


def test_the_insights_page_charts_the_apis_numbers(collector: CollectorProcess, api: AdminClient,
                                                  sent: tuple[str, list[dict[str, Any]]]) -> None:  # noqa: F811
    playwright_api = sync_playwright_api()
    event, _ = sent
    query = {"series": [{"event": event, "math": "persons"}], "date_from": "2026-10-31", "date_to": "2026-11-03",
             "timezone": "Europe/Berlin", "breakdown": {"property": "plan", "type": "event"}}
    expected = api.trends(query)["series"]
    api.save_insight({"key": "browser-insight", "name": "Checkout persons by plan", "query": query})
    url = "/dashboard/insights?" + urlencode({"event": event, "math": "persons", "date_from": "2026-10-31",
                                              "date_to": "2026-11-03", "timezone": "Europe/Berlin",
                                              "breakdown": "plan", "breakdown_type": "event"})
    experiment = _experiment(collector, api)
    results = api.results(experiment)
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{collector.url}{url}&token={collector.admin_secret}")
        page.wait_for_selector("#trend-chart canvas")
        assert _chart_data(page, "trend-chart") == [s["values"] for s in expected]
        for index, date in enumerate(expected[0]["dates"]):
            cells = page.locator(f"#trend-table tr[data-date='{date}'] td").all_inner_texts()
            assert cells == [date, *(format_value(s["values"][index]) for s in expected)]
        page.screenshot(path=SCREENSHOT.format("trends"), full_page=True)

        page.goto(f"{collector.url}/dashboard")
        page.click("#saved-insights a[href='/dashboard/insights?saved=browser-insight']")
        page.wait_for_selector("#trend-chart canvas")
        assert page.inner_text("h1") == "Checkout persons by plan"
        assert _chart_data(page, "trend-chart") == [s["values"] for s in expected]

        page.goto(f"{collector.url}/dashboard/insights?event={event}&math=wau&interval=week")
        assert "series[0].math" in page.inner_text("#query-error")

        page.goto(f"{collector.url}/dashboard/experiments/{experiment}")
        page.wait_for_selector("#exposure-chart canvas")
        exposures = _chart_data(page, "exposure-chart")
        assert exposures == list(results["timeline"]["exposures"].values())
        forest = page.evaluate("echarts.getInstanceByDom(document.getElementById('forest-chart')).getOption()"
                               ".series[1].data.map(d => d.value[0])")
        assert forest == [c["relative_effect"] for m in results["metrics"] for c in m["comparisons"]]
        page.wait_for_selector("#lift-chart-0 canvas")
        page.screenshot(path=SCREENSHOT.format("experiment"), full_page=True)
        browser.close()
    assert errors == []
