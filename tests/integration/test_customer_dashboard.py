"""The Customer health page in real headless chromium: the numbers on the page and in its charts
equal the API's (active persons, lifecycle and churn, NPS over time and by cohort, verbatims,
journeys, cohort sizes), targets are reference lines, links open each full insight, no console error."""

from __future__ import annotations

from typing import Any

import pytest

from browser import sync_playwright_api
from insights.customer_report import percent
from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient
from test_customer_api import DAYS, sent  # noqa: F401  (the module's events, sent once)
from test_dashboard import CHROMIUM_ARGS

pytestmark = pytest.mark.browser
SCREENSHOT = "/tmp/northstar-customer-{}.png"


def _option(page: Any, element_id: str) -> Any:
    return page.evaluate("id => echarts.getInstanceByDom(document.getElementById(id)).getOption()", element_id)


def test_the_customer_health_page_shows_the_apis_numbers(collector: CollectorProcess, api: AdminClient,
                                                         sent: tuple[str, list[dict[str, Any]]]) -> None:  # noqa: F811
    tag, _ = sent
    survey = f"nps-{tag}"
    api.save_survey({"key": survey, "question": "How likely are you to recommend us?"})
    api.save_cohort({"key": f"dash-{tag}", "name": "Openers", "rules": [{"type": "behavior", "event": f"{tag} Open"}]})
    api.save_targets([{"metric": "nps", "direction": "at_least", "value": 70},
                      {"metric": "churn_rate", "direction": "at_most", "value": 0.05, "label": "churn ≤ 5%"}])
    view = {**DAYS, "interval": "day", "timezone": "UTC"}
    lifecycle = api.insight("lifecycle", view)["points"]
    score = api.insight("nps", {"survey": survey, **view})
    by_cohort = api.insight("nps", {"survey": survey, **DAYS, "breakdown": {"type": "cohort", "cohorts": [f"dash-{tag}"]}})
    cohort_size = api.get_cohort(f"dash-{tag}", days=1)["persons"]
    playwright_api = sync_playwright_api()
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type in ("error", "warning") else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{collector.url}/dashboard/customer?days=7&interval=day&survey={survey}&token={collector.admin_secret}")
        for chart in ("actives-chart", "lifecycle-chart", "nps-chart", "segments-chart", "paths-chart"):
            page.wait_for_selector(f"#{chart} canvas")
        drawn = _option(page, "lifecycle-chart")["series"]
        assert drawn[0]["data"] == [p["new"] for p in lifecycle]
        assert drawn[3]["data"] == [-p["dormant"] for p in lifecycle]
        assert drawn[4]["data"] == [p["churn_rate"] for p in lifecycle]
        assert [line["yAxis"] for line in drawn[4]["markLine"]["data"]] == [0.05]
        assert page.inner_text("#churn-now") == percent(lifecycle[-1]["churn_rate"])
        assert page.inner_text("#active-now") == f"{lifecycle[-1]['active']:,}"
        assert page.inner_text("#nps-now") == "+40 ± 70"
        nps_series = _option(page, "nps-chart")["series"][2]
        assert nps_series["data"] == [p["summary"]["nps"] for p in score["dates"]]
        assert [line["yAxis"] for line in nps_series["markLine"]["data"]] == [70]
        segment = page.locator(f"#segments-table tr[data-segment='dash-{tag}'] td").all_inner_texts()
        summary = by_cohort["breakdowns"][0]["summary"]
        assert segment[1] == f"{summary['responses']:,}"
        assert page.locator("#verbatims li").count() == len(score["answers"]) == 3
        assert page.locator(f"#cohorts-table tr[data-cohort='dash-{tag}'] td").all_inner_texts()[1] == f"{cohort_size:,}"
        actives = api.insight("lifecycle", view)  # active persons on the last day = lifecycle's active
        assert page.inner_text("#dau-now") == f"{actives['points'][-1]['active']:,}"
        page.screenshot(path=SCREENSHOT.format("health"), full_page=True)

        page.click("#journeys a.more")
        page.wait_for_selector("#paths-chart canvas")
        page.screenshot(path=SCREENSHOT.format("paths"), full_page=True)
        page.goto(f"{collector.url}/dashboard/customer/cohorts/dash-{tag}")
        assert page.inner_text("#cohort-size") == f"{cohort_size:,}"
        page.goto(f"{collector.url}/dashboard")
        page.click("#customer-link")
        page.wait_for_selector("#lifecycle-chart canvas")
        page.goto(f"{collector.url}/dashboard/customer?days=oops")
        assert "days" in page.inner_text("#view-error")
        browser.close()
    assert errors == []
