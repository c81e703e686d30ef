"""Funnels and retention over HTTP on a real collector: the issue's fixture sent through the
ingestion API gives ordered [6, 5, 4] and strict [6, 3, 2], the persons endpoint lists who
dropped, retention answers a small grid, bad input names the field, no secret is a 401, and the
CLI prints the API's numbers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import httpx
import pytest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient

T0 = dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
FIXTURE = {
    "u1": [("A", 0 * HOUR), ("B", HOUR), ("C", 2 * HOUR)],
    "u2": [("A", 0 * HOUR), ("C", HOUR), ("B", 2 * HOUR)],
    "u3": [("A", 0 * HOUR), ("B", 2 * DAY), ("C", 2 * DAY + HOUR)],
    "u4": [("A", 0 * HOUR), ("A", 3 * DAY), ("B", 3 * DAY + HOUR), ("C", 3 * DAY + 2 * HOUR)],
    "u5": [("A", 0 * HOUR), ("X", HOUR / 2), ("B", HOUR), ("C", 3 * HOUR / 2)],
    "u6": [("A", 0 * HOUR), ("B", HOUR), ("A", 3 * HOUR / 2), ("C", 2 * HOUR)],
    "u7": [("B", 0 * HOUR), ("C", HOUR)],
}
RETURNS = {"r1": [0, 1], "r2": [0], "r3": [1, 2]}


def _person_id(user: str) -> str:
    return hashlib.md5(f"northstar.person:{user}".encode()).hexdigest()


@pytest.fixture(scope="module")
def tag(collector: CollectorProcess) -> str:
    """A fresh prefix for the module's event names and users (the collector is shared)."""
    tag = uuid.uuid4().hex[:8]
    batch = [{"type": "track", "event": f"{tag}-{name}", "userId": f"{tag}-{user}", "messageId": str(uuid.uuid4()),
              "timestamp": (T0 + at).isoformat()} for user, steps in FIXTURE.items() for name, at in steps]
    batch += [{"type": "track", "event": f"{tag}-open", "userId": f"{tag}-{user}", "messageId": str(uuid.uuid4()),
               "timestamp": (T0 + day * DAY + 5 * HOUR).isoformat()} for user, days in RETURNS.items() for day in days]
    answer = httpx.post(f"{collector.url}/v1/import", json={"batch": batch}, auth=(collector.write_key, ""))
    assert answer.status_code == 200 and answer.json()["accepted"] == len(batch), answer.text
    AdminClient(collector.url, collector.admin_secret).wait_until_stored()
    return tag


def _funnel(tag: str, **fields: Any) -> dict[str, Any]:
    return {"steps": [{"event": f"{tag}-{s}"} for s in "ABC"], "date_from": "2026-05-01", "date_to": "2026-05-14",
            "window_seconds": 86400, **fields}


def _retention(tag: str, **fields: Any) -> dict[str, Any]:
    return {"start_event": {"event": f"{tag}-open"}, "return_event": {"event": f"{tag}-open"},
            "date_from": "2026-05-01", "date_to": "2026-05-03", "periods": 3, **fields}


def test_the_issue_fixture_over_http(api: AdminClient, tag: str) -> None:
    ordered = api.funnel(_funnel(tag))
    assert [s["count"] for s in ordered["steps"]] == [6, 5, 4]
    assert ordered["steps"][1]["conversion_from_first"] == pytest.approx(5 / 6)
    assert [s["count"] for s in api.funnel(_funnel(tag, order="strict"))["steps"]] == [6, 3, 2]


def test_the_persons_endpoint_lists_who_dropped_and_pages(api: AdminClient, tag: str) -> None:
    assert api.funnel_persons(_funnel(tag, step=1, dropped=True))["person_ids"] == [_person_id(f"{tag}-u3")]
    assert api.funnel_persons(_funnel(tag, step=2, dropped=True))["person_ids"] == [_person_id(f"{tag}-u2")]
    first = api.funnel_persons(_funnel(tag, step=3, limit=3))
    rest = api.funnel_persons(_funnel(tag, step=3, limit=3, offset=3))
    assert first["has_more"] and not rest["has_more"]
    assert set(first["person_ids"] + rest["person_ids"]) == {_person_id(f"{tag}-{u}") for u in ("u1", "u4", "u5", "u6")}


def test_retention_over_http(api: AdminClient, tag: str) -> None:
    cohorts = api.retention(_retention(tag))["cohorts"]
    assert [(c["start"], c["values"]) for c in cohorts] == [
        ("2026-05-01", [2, 1, 0]), ("2026-05-02", [2, 1]), ("2026-05-03", [1])]


@pytest.mark.parametrize(("path", "change", "field"), [
    ("funnel", {"window_seconds": 0}, "window_seconds"),
    ("funnel", {"steps": [{"event": "a"}] * 21}, "steps"),
    ("funnel", {"steps": [{"event": "a"}, {"event": ""}]}, "steps[1].event"),
    ("funnel", {"order": "sideways"}, "order"),
    ("funnel", {"steps": [{"event": "a", "filters": [{"property": "bad name"}]}, {"event": "b"}]},
     "steps[0].filters[0].property"),
    ("funnel/persons", {"step": 9}, "step"),
    ("retention", {"periods": 0}, "periods"),
    ("retention", {"periods": 101}, "periods"),
    ("retention", {"interval": "year"}, "interval"),
])
def test_bad_input_is_a_400_naming_the_field(collector: CollectorProcess, path: str, change: dict[str, Any],
                                             field: str) -> None:
    body = _retention("x") if path == "retention" else _funnel("x")
    answer = httpx.post(f"{collector.url}/v1/insights/{path}", json={**body, **change},
                        headers={"Authorization": f"Bearer {collector.admin_secret}"})
    assert answer.status_code == 400 and answer.json()["field"] == field, answer.text


@pytest.mark.parametrize("path", ["funnel", "funnel/persons", "retention"])
def test_funnels_and_retention_need_the_admin_secret(collector: CollectorProcess, path: str) -> None:
    assert httpx.post(f"{collector.url}/v1/insights/{path}", json={}).status_code == 401


def test_the_cli_prints_the_apis_numbers(collector: CollectorProcess, api: AdminClient, tag: str, tmp_path) -> None:  # noqa: ANN001
    from test_cli import fails, succeeds

    days = ["--from", "2026-05-01", "--to", "2026-05-14"]
    flags = ["insights", "funnel", *(f"{tag}-{s}" for s in "ABC"), *days, "--window-seconds", "86400", "--order", "strict"]
    expected = api.funnel(_funnel(tag, order="strict"))
    assert json.loads(succeeds(collector, *flags, "--json")) == expected
    table = succeeds(collector, *flags).splitlines()
    counts = [line.split()[2] for line in table if line.lstrip()[:2] in ("1.", "2.", "3.")]
    assert counts == [f"{s['count']:,}" for s in expected["steps"]] == ["6", "3", "2"]
    query = tmp_path / "funnel.json"
    query.write_text(json.dumps(_funnel(tag)))
    assert json.loads(succeeds(collector, "insights", "funnel", "--query", str(query), "--json")) == api.funnel(_funnel(tag))

    retention = ["insights", "retention", f"{tag}-open", "--from", "2026-05-01", "--to", "2026-05-03", "--periods", "3"]
    expected = api.retention(_retention(tag))
    assert json.loads(succeeds(collector, *retention, "--json")) == expected
    rows = {line.split()[0]: line.split()[1] for line in succeeds(collector, *retention).splitlines()[4:]}
    assert rows == {c["start"]: f"{c['size']:,}" for c in expected["cohorts"]}
    assert "window_seconds" in fails(collector, *flags[:-4], "--window-seconds", "99999999999")
