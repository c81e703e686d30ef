"""The SDK's web middleware in the real frameworks' test clients: FastAPI/Starlette (ASGI),
Flask (WSGI) and Django: request context, the first-party anonymous-id cookie, flush on shutdown."""

from __future__ import annotations

from typing import Any

import pytest

import sdk
from sdk.web import COOKIE_NAME, ASGIMiddleware, DjangoMiddleware, WSGIMiddleware, current_anonymous_id
from sdk_sink import running_sink


def recording_client() -> sdk.Client:
    return sdk.Client("wk_test", send=False)


def assert_tracked_with_request_context(message: dict[str, Any], path: str, anonymous_id: str) -> None:
    assert message["anonymousId"] == anonymous_id and message["userId"] == "user-1"
    page = message["context"]["page"]
    assert page["path"] == path and page["url"].endswith(f"{path}?plan=pro") and page["search"] == "?plan=pro"
    assert page["referrer"] == "https://ref.example/"
    assert message["context"]["userAgent"] == "pytest-agent"
    assert message["context"]["campaign"] == {"name": "spring"}  # the call's own context is kept
    assert "ip" not in message["context"]


HEADERS = {"User-Agent": "pytest-agent", "Referer": "https://ref.example/"}


def test_fastapi_requests_get_context_a_stable_cookie_and_a_flush_on_shutdown() -> None:
    fastapi = pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    with running_sink() as sink:
        client = sdk.Client("wk_test", sink.url, flush_interval=60)
        app = fastapi.FastAPI()
        app.add_middleware(ASGIMiddleware, client=client)

        @app.get("/checkout")
        def checkout() -> dict[str, Any]:  # a sync endpoint: runs in the thread pool
            client.track("user-1", "Checkout Viewed", context={"campaign": {"name": "spring"}})
            return {"anonymous_id": current_anonymous_id()}

        @app.get("/async-checkout")
        async def async_checkout() -> dict[str, Any]:
            client.track("user-1", "Checkout Viewed", context={"campaign": {"name": "spring"}})
            return {"anonymous_id": current_anonymous_id()}

        with TestClient(app) as http:
            first = http.get("/checkout?plan=pro", headers=HEADERS)
            anonymous_id = first.json()["anonymous_id"]
            cookie = first.headers["set-cookie"]
            assert cookie.startswith(f"{COOKIE_NAME}={anonymous_id};") and "HttpOnly" in cookie
            second = http.get("/async-checkout?plan=pro", headers=HEADERS)  # the cookie jar sends it back
            assert second.json()["anonymous_id"] == anonymous_id and "set-cookie" not in second.headers
            assert sink.requests == []  # flush_interval=60: nothing sent yet
        messages = sink.messages()  # the lifespan shutdown flushed
        client.shutdown()
    assert len(messages) == 2
    assert_tracked_with_request_context(messages[0], "/checkout", anonymous_id)
    assert_tracked_with_request_context(messages[1], "/async-checkout", anonymous_id)
    assert current_anonymous_id() is None  # outside a request


def test_flask_requests_get_context_and_a_stable_cookie_and_ip_only_when_allowed() -> None:
    flask = pytest.importorskip("flask")
    client = recording_client()
    app = flask.Flask(__name__)
    app.wsgi_app = WSGIMiddleware(app.wsgi_app, client, include_ip=True)  # type: ignore[method-assign]

    @app.get("/pricing")
    def pricing() -> dict[str, Any]:
        client.track("user-1", "Pricing Viewed", context={"campaign": {"name": "spring"}})
        return {"anonymous_id": current_anonymous_id()}

    http = app.test_client()
    first = http.get("/pricing?plan=pro", headers=HEADERS)
    anonymous_id = first.get_json()["anonymous_id"]
    assert first.headers["Set-Cookie"].startswith(f"{COOKIE_NAME}={anonymous_id};")
    second = http.get("/pricing?plan=pro", headers=HEADERS)
    assert second.get_json()["anonymous_id"] == anonymous_id and "Set-Cookie" not in second.headers
    assert len(client.recorded) == 2
    for message in client.recorded:
        assert message["context"].pop("ip") == "127.0.0.1"
        assert_tracked_with_request_context(message, "/pricing", anonymous_id)


def test_a_malformed_cookie_gets_a_fresh_anonymous_id() -> None:
    flask = pytest.importorskip("flask")
    app = flask.Flask(__name__)
    app.wsgi_app = WSGIMiddleware(app.wsgi_app, recording_client())  # type: ignore[method-assign]
    app.get("/")(lambda: {"anonymous_id": current_anonymous_id()})
    http = app.test_client()
    http.set_cookie(COOKIE_NAME, "x" * 200)
    answer = http.get("/")
    assert answer.get_json()["anonymous_id"] != "x" * 200 and COOKIE_NAME in answer.headers["Set-Cookie"]


def test_django_requests_get_context_and_a_stable_cookie() -> None:
    pytest.importorskip("django")
    import django
    from django.conf import settings
    from django.http import JsonResponse
    from django.test import Client as DjangoTestClient
    from django.urls import path

    client = recording_client()

    class Tracking(DjangoMiddleware):
        options = {"client": client}

    def signup(request: Any) -> JsonResponse:
        client.track("user-1", "Signup Viewed", context={"campaign": {"name": "spring"}})
        return JsonResponse({"anonymous_id": current_anonymous_id()})

    global urlpatterns, _tracking_middleware
    urlpatterns = [path("signup", signup)]
    _tracking_middleware = Tracking
    if not settings.configured:
        settings.configure(ROOT_URLCONF=__name__, ALLOWED_HOSTS=["testserver"], SECRET_KEY="test-only",
                           MIDDLEWARE=[f"{__name__}._tracking_middleware"])
        django.setup()

    http = DjangoTestClient(headers={"user-agent": "pytest-agent", "referer": "https://ref.example/"})
    first = http.get("/signup", {"plan": "pro"})
    anonymous_id = first.json()["anonymous_id"]
    assert first.cookies[COOKIE_NAME].value == anonymous_id and first.cookies[COOKIE_NAME]["httponly"]
    second = http.get("/signup", {"plan": "pro"})
    assert second.json()["anonymous_id"] == anonymous_id and COOKIE_NAME not in second.cookies
    assert len(client.recorded) == 2
    for message in client.recorded:
        assert_tracked_with_request_context(message, "/signup", anonymous_id)


urlpatterns: list[Any] = []
_tracking_middleware: Any = None
