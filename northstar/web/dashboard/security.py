"""Security headers on every dashboard response: pages, the login form, redirects and errors.

A pure ASGI middleware (not per route), so responses made by the exception table, by
Starlette's own 404/405 and by the guards' redirects carry the headers too. It looks at the
path only and costs nothing on other routes (the ingestion hot path).

The policy: scripts only from the origin (`script-src 'self'`: the vendored ECharts file and
the dashboard's `charts.js`; no inline script, no eval, so an injected `<script>` or
`onerror=` cannot run even if a value escaped the renderer; chart data is JSON in
`<script type="application/json">`, which never runs), styles only from the dashboard's own
stylesheet (`style-src 'self'`: the pages carry no `style` attributes or `<style>` elements;
ECharts draws on a canvas and sets element styles through the CSSOM, which CSP does not
govern, and its tooltips use rich text, not HTML), images only from the origin or `data:`
(the empty favicon), forms only to the origin, no framing (clickjacking), no `<base>`
rewriting; `nosniff`, and no referrer, so a `?token=` URL never leaks.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_SECURITY_POLICY", "DashboardSecurityHeaders", "SECURITY_HEADERS", "is_dashboard_path"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


def is_dashboard_path(path: str) -> bool:
    return path == "/dashboard" or path.startswith("/dashboard/")


class DashboardSecurityHeaders:
    """Adds `SECURITY_HEADERS` to every HTTP response whose path is under /dashboard (replacing any set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_dashboard_path(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", ()) if name.lower() not in _NAMES]
                message = {**message, "headers": [*kept, *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
