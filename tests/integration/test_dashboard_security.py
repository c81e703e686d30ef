"""The dashboard under attack, in real headless chromium and over HTTP: script in a URL or in a
definition never runs (escaped by the one renderer, and forbidden by the Content-Security-Policy),
every dashboard response carries the security headers, and sessions are random, server-side and
revoked at sign-out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from urllib.parse import quote

import httpx
import pytest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient
from northstar.web.dashboard.security import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PAYLOAD = "\"><img src=x onerror=alert(document.domain)>"
HOSTILE = "'\"><img src=x onerror=alert(1)><script>alert(2)</script>"
SCREENSHOTS = "/tmp/northstar-xss-{}.png"


@pytest.fixture(scope="module")
def hostile_experiment(collector: CollectorProcess) -> str:
    """A running experiment whose free-text fields are markup, with a few exposures today."""
    api = AdminClient(collector.url, collector.admin_secret)
    key = f"xss-{uuid.uuid4().hex[:8]}"
    api.save_metric({"key": f"{key}-m", "name": HOSTILE, "kind": "count", "event": HOSTILE})
    api.save_experiment({"key": key, "name": HOSTILE, "conversion_event": HOSTILE, "metrics": [f"{key}-m"],
                         "hypothesis": HOSTILE, "status": "running",
                         "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]})
    now = datetime.now(timezone.utc).isoformat()
    events = [{"type": "track", "event": "Experiment Viewed", "userId": f"{key}-{n}", "timestamp": now,
               "properties": {"experiment_id": key, "variation_id": ("control", "treatment")[n % 2]}}
              for n in range(40)]
    httpx.post(collector.url + "/v1/batch", json={"batch": events}, auth=(collector.write_key, "")).raise_for_status()
    api.wait_until_stored()
    return key


@pytest.fixture
def browser_page(collector: CollectorProcess) -> Iterator[tuple[object, list[str], list[str]]]:
    """A signed-in page, the dialogs it opened and its console errors."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        dialogs: list[str] = []
        errors: list[str] = []

        def on_dialog(dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{collector.url}/dashboard/login")
        page.fill("#secret", collector.admin_secret)
        page.click("button[type=submit]")
        page.wait_for_url(f"{collector.url}/dashboard")
        yield page, dialogs, errors
        browser.close()


def test_a_script_in_the_url_is_shown_as_text_and_never_runs(
    collector: CollectorProcess, browser_page: tuple
) -> None:
    page, dialogs, errors = browser_page
    response = page.goto(f"{collector.url}/dashboard/experiments/{PAYLOAD}")
    assert response.status == 404
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.inner_text("#not-found") == f"No experiment {PAYLOAD!r}."
    assert page.locator("main img").count() == 0
    page.wait_for_timeout(300)  # an onerror handler would have fired by now
    page.screenshot(path=SCREENSHOTS.format("url"), full_page=True)
    assert dialogs == []
    assert [e for e in errors if "404" not in e] == []  # the page's own 404 is the only complaint


def test_markup_in_a_definition_is_text_on_every_page_with_no_csp_violation(
    collector: CollectorProcess, hostile_experiment: str, browser_page: tuple
) -> None:
    page, dialogs, errors = browser_page
    page.goto(f"{collector.url}/dashboard")
    row = page.locator("#experiments tr", has_text=hostile_experiment)
    assert HOSTILE in row.inner_text()
    page.click(f"a[href='/dashboard/experiments/{hostile_experiment}']")
    page.wait_for_selector("#verdict")
    assert page.inner_text("h1") == HOSTILE
    assert f"conversion: {HOSTILE}" in page.inner_text("section.metric[data-metric='conversion'] h2")
    assert HOSTILE in page.inner_text(f"section.metric[data-metric='{hostile_experiment}-m'] h2")
    assert page.locator("main img, main script:not([type='application/json'])").count() == 0
    page.wait_for_timeout(300)
    page.screenshot(path=SCREENSHOTS.format("definition"), full_page=True)
    assert dialogs == [] and errors == []  # a CSP violation (inline style, script) is a console error


def test_every_dashboard_response_carries_the_security_headers(
    collector: CollectorProcess, hostile_experiment: str
) -> None:
    with httpx.Client(base_url=collector.url) as anonymous, \
            httpx.Client(base_url=collector.url, headers={"Authorization": f"Bearer {collector.admin_secret}"}) as admin:
        responses = [
            anonymous.get("/dashboard/login"),
            anonymous.post("/dashboard/login", data={"secret": "not-the-secret"}),  # 401 page
            anonymous.get("/dashboard"),  # 303 to the login form
            anonymous.get("/dashboard/experiments/x", params={"token": "not-the-secret"}),  # 401 page
            anonymous.post("/dashboard/logout"),  # 303
            anonymous.get("/dashboard/static/dashboard.css"),
            anonymous.get("/dashboard/no-such-page"),  # Starlette's own 404
            admin.get("/dashboard"),
            admin.get(f"/dashboard/experiments/{hostile_experiment}"),
            admin.get(f"/dashboard/experiments/{quote(PAYLOAD, safe='')}"),  # the 404 page
        ]
    assert [r.status_code for r in responses] == [200, 401, 303, 401, 303, 200, 404, 200, 200, 404]
    for response in responses:
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, response.url
        assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY and "script-src 'self'" in CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    assert PAYLOAD not in responses[-1].text and "&lt;img src=x onerror" in responses[-1].text
    assert "content-security-policy" not in httpx.get(collector.url + "/health").headers


def test_sessions_are_random_per_sign_in_and_dead_after_sign_out(collector: CollectorProcess) -> None:
    def sign_in() -> httpx.Client:
        client = httpx.Client(base_url=collector.url)
        response = client.post("/dashboard/login", data={"secret": collector.admin_secret})
        assert response.status_code == 303
        cookie = response.headers["set-cookie"].lower()
        assert all(part in cookie for part in ("httponly", "samesite=strict", "path=/dashboard", "max-age="))
        assert "secure" not in cookie  # plain http here; https or --secure-cookies add it (unit-tested)
        return client

    first, second = sign_in(), sign_in()
    first_cookie, second_cookie = first.cookies["northstar_session"], second.cookies["northstar_session"]
    assert first_cookie != second_cookie and collector.admin_secret not in first_cookie
    assert first.get("/dashboard").status_code == 200
    assert first.post("/dashboard/logout").status_code == 303
    replayed = httpx.get(collector.url + "/dashboard", cookies={"northstar_session": first_cookie})
    assert replayed.status_code == 303 and replayed.headers["location"] == "/dashboard/login"
    assert second.get("/dashboard").status_code == 200  # other sessions live on
    forged = httpx.get(collector.url + "/dashboard", cookies={"northstar_session": "0" * 64})
    assert forged.status_code == 303
    first.close()
    second.close()
