"""The Funnel and Retention pages in real headless chromium: the chart and tables hold the API's
numbers, drop-offs link to the persons who dropped, under the strict CSP, with no console error."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from browser import sync_playwright_api
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient
from test_dashboard import CHROMIUM_ARGS
from test_funnels_api import _funnel, _person_id, _retention, tag  # noqa: F401  (the module's events, sent once)

pytestmark = pytest.mark.browser
SCREENSHOT = "/tmp/northstar-funnel-{}.png"


def test_the_funnel_and_retention_pages_show_the_apis_numbers(collector: CollectorProcess, api: AdminClient,
                                                             tag: str) -> None:  # noqa: F811
    playwright_api = sync_playwright_api()
    steps = [s["count"] for s in api.funnel(_funnel(tag, order="strict"))["steps"]]
    cohorts = api.retention(_retention(tag))["cohorts"]
    funnel_url = "/dashboard/funnel?" + urlencode([*(("steps", f"{tag}-{s}") for s in "ABC"), ("from", "2026-05-01"),
                                                   ("to", "2026-05-14"), ("window", "86400"), ("order", "strict")])
    retention_url = "/dashboard/retention?" + urlencode({"event": f"{tag}-open", "from": "2026-05-01",
                                                         "to": "2026-05-03", "periods": 3})
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{collector.url}{funnel_url}&token={collector.admin_secret}")
        page.wait_for_selector("#funnel-chart canvas")
        data = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('funnel-chart')).getOption()"
                             ".series.map(s => s.data)")
        assert data == [steps, [steps[0] - steps[1], steps[1] - steps[2], 0]] == [[6, 3, 2], [3, 1, 0]]
        rows = [page.locator("#funnel-steps tbody tr").nth(i).locator("td").all_inner_texts() for i in range(3)]
        assert [r[1] for r in rows] == ["6", "3", "2"] and [r[4] for r in rows] == ["3", "1", "–"]
        page.screenshot(path=SCREENSHOT.format("funnel"), full_page=True)
        page.click("#funnel-steps tbody tr:nth-child(2) td:nth-child(5) a")
        page.wait_for_selector("#funnel-persons")
        dropped = api.funnel_persons(_funnel(tag, order="strict", step=2, dropped=True))["person_ids"]
        assert page.locator("#funnel-persons a").all_inner_texts() == dropped and len(dropped) == 1

        page.goto(f"{collector.url}{retention_url}")
        grid = [page.locator("#retention-grid tbody tr").nth(i).locator("td").all_inner_texts()
                for i in range(len(cohorts))]
        assert grid == [[c["start"], str(c["size"]), *(str(v) for v in c["values"])] for c in cohorts]
        assert page.locator("#retention-grid td.share-10").count() == sum(1 for c in cohorts if c["size"])  # period 0
        page.screenshot(path=SCREENSHOT.format("retention"), full_page=True)
        browser.close()
    assert errors == []
