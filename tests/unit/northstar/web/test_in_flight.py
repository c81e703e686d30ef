"""The in-flight limit counts requests inside the application, and never refuses /health."""

from __future__ import annotations

import asyncio
from typing import Any

from northstar.web.in_flight import RequestsInFlight


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}


def test_past_the_limit_a_503_with_retry_after_and_health_still_answers() -> None:
    async def scenario() -> tuple[list[int], list[dict[str, Any]], int, int]:
        release = asyncio.Event()
        statuses: list[int] = []
        refusals: list[dict[str, Any]] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await release.wait()
            statuses.append(200)

        refused = []
        limited = RequestsInFlight(app, limit=1, on_refused=lambda: refused.append(1))

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                refusals.append(message)

        holding = asyncio.create_task(limited(_scope("/v1/batch"), receive, send))
        await asyncio.sleep(0)
        await limited(_scope("/v1/batch"), receive, send)  # refused at once
        health = asyncio.create_task(limited(_scope("/health"), receive, send))
        await asyncio.sleep(0)
        release.set()
        await holding
        await health
        after = limited.in_flight
        await limited(_scope("/v1/batch"), receive, send)  # room again
        return statuses, refusals, after, len(refused)

    statuses, refusals, left_in_flight, counted = asyncio.run(scenario())
    assert [message["status"] for message in refusals] == [503]
    assert (b"retry-after", b"5") in refusals[0]["headers"]
    assert statuses == [200, 200, 200]  # the held request, /health, and the one after
    assert left_in_flight == 0 and counted == 1
