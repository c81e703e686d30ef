"""NPS in ClickHouse equals the plain-Python reference on randomized survey responses (ours and
PostHog's `survey sent`; last per person or all; per interval in zones; breakdowns by event and
person properties; filters), and the issue's fixed examples: [10,9,9,8,7,6,5,0,10,3] give 0,
[10,10,9,7,0] give +40 ± 70."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.storage.clickhouse import Client
from insight_events import load, rows_of
from insights.surveys import nps, parse_nps_query
from test_lifecycle_reference import ZONES
from tests.reference import surveys as reference

T0 = dt.datetime(2026, 3, 20, tzinfo=dt.timezone.utc)
USERS = [f"u{n}" for n in range(7)]


def response(index: int, user: str, at: dt.datetime, score: Any, *, survey: str = "nps",
             answer: str | None = None, posthog: bool = False, plan: str = "free") -> dict[str, Any]:
    if posthog:
        properties = {"$survey_id": survey, "$survey_response": score if answer is None else answer, "plan": plan}
        event = "survey sent"
    else:
        properties = {"survey": survey, "plan": plan, **({"score": score} if score is not None else {}),
                      **({"answer": answer} if answer else {})}
        event = "Survey Responded"
    return {"type": "track", "event": event, "userId": user, "messageId": f"r{index}", "timestamp": at,
            "properties": properties}


@st.composite
def responses(draw: st.DrawFn) -> list[dict[str, Any]]:
    found = []
    for index in range(draw(st.integers(0, 40))):
        at = T0 + dt.timedelta(minutes=draw(st.integers(0, 14 * 24 * 60)), seconds=index)  # no ties per person
        score = draw(st.one_of(st.integers(0, 10), st.sampled_from(["8", None])))
        found.append(response(index, draw(st.sampled_from(USERS)), at, score,
                              survey=draw(st.sampled_from(["nps", "nps", "other"])), posthog=draw(st.booleans()),
                              answer=draw(st.sampled_from([None, None, "too slow"])) if score is not None else "hi",
                              plan=draw(st.sampled_from(["free", "pro", "team"]))))
    for index, user in enumerate(USERS[:4]):
        found.append({"type": "identify", "userId": user, "messageId": f"i{index}", "timestamp": T0,
                      "traits": {"country": ["DE", "US"][index % 2]}})
    return found


@st.composite
def queries(draw: st.DrawFn) -> dict[str, Any]:
    first = dt.date(2026, 3, 19) + dt.timedelta(days=draw(st.integers(0, 8)))
    query: dict[str, Any] = {"survey": "nps", "date_from": first.isoformat(),
                             "date_to": (first + dt.timedelta(days=draw(st.integers(0, 9)))).isoformat(),
                             "timezone": draw(st.sampled_from(ZONES)),
                             "responses": draw(st.sampled_from(["last", "all"]))}
    if draw(st.booleans()):
        query["interval"] = draw(st.sampled_from(["day", "week"]))
    if draw(st.booleans()):
        query["breakdown"] = draw(st.sampled_from([{"property": "plan", "type": "event"},
                                                   {"property": "country", "type": "person"}]))
        query["breakdown_limit"] = draw(st.integers(1, 3))
    if draw(st.booleans()):
        query["filters"] = [{"property": "plan", "operator": "not_equals", "value": "team"}]
    return query


def engine(events_store: Client, query: dict[str, Any]) -> dict[str, Any]:
    return msgspec.to_builtins(nps(rows_of(events_store), parse_nps_query(msgspec.json.encode(query))))


def approx(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: approx(one) for key, one in value.items()}
    if isinstance(value, list):
        return [approx(one) for one in value]
    return pytest.approx(value) if isinstance(value, float) else value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(events=responses(), query=queries())
def test_nps_equals_the_reference(events_store: Client, events: list[dict[str, Any]], query: dict[str, Any]) -> None:
    load(events_store, events)
    found = engine(events_store, query)
    expected = reference.nps(events, query)
    assert found["total"] == approx(expected["total"])
    assert found["dates"] == approx(expected.get("dates", []))
    assert found["breakdowns"] == approx(expected.get("breakdowns", []))


@pytest.mark.parametrize(("scores", "score", "margin"), [
    ([10, 9, 9, 8, 7, 6, 5, 0, 10, 3], 0, 55.4),
    ([10, 10, 9, 7, 0], 40, 70.1),
])
def test_the_fixed_examples(events_store: Client, scores: list[int], score: float, margin: float) -> None:
    at = dt.datetime(2026, 4, 2, 12, tzinfo=dt.timezone.utc)
    load(events_store, [response(n, f"p{n}", at, value, answer="great" if value >= 9 else None, posthog=value < 9)
                  for n, value in enumerate(scores)])
    found = engine(events_store, {"survey": "nps", "date_from": "2026-04-02", "date_to": "2026-04-02"})
    total = found["total"]
    assert (total["responses"], total["nps"]) == (len(scores), pytest.approx(score))
    assert total["nps_margin"] == pytest.approx(margin, abs=0.05)
    assert total["promoters"] + total["passives"] + total["detractors"] == len(scores)
    assert {answer["answer"] for answer in found["answers"]} == {"great"}
    assert len(found["answers"]) == sum(1 for value in scores if value >= 9)


def test_each_persons_last_response_counts_by_default(events_store: Client) -> None:
    at = dt.datetime(2026, 4, 2, 12, tzinfo=dt.timezone.utc)
    load(events_store, [response(0, "a", at, 2), response(1, "a", at + dt.timedelta(hours=1), 10), response(2, "b", at, 9)])
    query = {"survey": "nps", "date_from": "2026-04-02", "date_to": "2026-04-02"}
    assert engine(events_store, query)["total"]["nps"] == pytest.approx(100)
    all_of_them = engine(events_store, {**query, "responses": "all"})["total"]
    assert (all_of_them["responses"], all_of_them["detractors"]) == (3, 1)
