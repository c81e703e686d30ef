"""The dashboard's sign-in on plain Starlette requests: the cookie's attributes (Secure over https or
when configured), a new session per sign-in, revocation at sign-out, and the throttle's 429."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest
from starlette.requests import Request

from northstar.web.auth import SESSION_COOKIE, DashboardSession, SecretChecks
from northstar.web.sessions import SessionStore
from northstar.web.throttle import GuessThrottle

SECRET = "an-admin-secret-of-some-length"


def _request(scheme: str = "http", cookie: str | None = None, client: str = "10.0.0.1") -> Request:
    headers = [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())] if cookie else []
    return Request({"type": "http", "scheme": scheme, "method": "POST", "path": "/dashboard/login",
                    "query_string": b"", "headers": headers, "server": ("collector", 443),
                    "client": (client, 50000)})


def _session(secure_cookies: bool = False, burst: int = 20) -> DashboardSession:
    return DashboardSession(SECRET, SecretChecks(GuessThrottle(burst=burst)), SessionStore(),
                            lambda message: f"<p>{message}</p>", secure_cookies=secure_cookies)


def _cookie(response) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(response.headers["set-cookie"])
    return cookie


@pytest.mark.parametrize(("scheme", "configured", "secure"), [
    ("http", False, False), ("https", False, True), ("http", True, True),
])
def test_the_cookie_is_httponly_strict_scoped_and_secure_over_https_or_when_configured(
    scheme: str, configured: bool, secure: bool
) -> None:
    response = _session(configured).sign_in(_request(scheme), SECRET, then="/dashboard")
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"
    morsel = _cookie(response)[SESSION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "strict" and morsel["path"] == "/dashboard"
    assert morsel["max-age"] == str(12 * 3600)
    assert bool(morsel["secure"]) is secure


def test_each_sign_in_is_a_new_session_that_sign_out_revokes() -> None:
    session = _session()
    first, second = (_cookie(session.sign_in(_request(), SECRET, "/dashboard"))[SESSION_COOKIE].value
                     for _ in range(2))
    assert first != second and SECRET not in first
    assert session.signed_in(_request(cookie=first)) and session.signed_in(_request(cookie=second))
    out = session.sign_out(_request(cookie=first), then="/dashboard/login")
    assert out.status_code == 303 and _cookie(out)[SESSION_COOKIE]["max-age"] == "0"
    assert not session.signed_in(_request(cookie=first))  # the old cookie is worthless, even if kept
    assert session.signed_in(_request(cookie=second))


def test_wrong_secrets_are_refused_then_throttled_without_being_checked() -> None:
    session = _session(burst=2)
    assert [session.sign_in(_request(), "wrong", "/dashboard").status_code for _ in range(2)] == [401, 401]
    throttled = session.sign_in(_request(), "wrong", "/dashboard")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "1"
    assert b"Too many wrong secrets" in throttled.body
    right_but_blocked = session.sign_in(_request(), SECRET, "/dashboard")
    assert right_but_blocked.status_code == 429 and "set-cookie" not in right_but_blocked.headers
    assert session.sign_in(_request(client="10.0.0.2"), SECRET, "/dashboard").status_code == 303
    assert session.sign_in(_request(), "", "/dashboard").status_code == 401  # empty: refused, not counted
