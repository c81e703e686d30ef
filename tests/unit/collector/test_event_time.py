"""Event times outside the route's window: stored at the receive time with the client's time
kept (live routes), or refused by index (`/v1/import`); skew-corrected as ClickHouse does."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from collector.event_time import IMPORT_WINDOW, LIVE_WINDOW
from collector.posthog import decode_capture
from collector.wire import decode_batch, decode_single

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=timezone.utc)
LIMIT = 32 * 1024


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _track(timestamp: str | None = None, **fields: object) -> dict[str, object]:
    event: dict[str, object] = {"type": "track", "event": "E", "userId": "u", **fields}
    if timestamp is not None:
        event["timestamp"] = timestamp
    return event


def _live(*events: dict[str, object], **envelope: object) -> list:
    return decode_batch(json.dumps({"batch": list(events), **envelope}).encode(), NOW, LIMIT, LIVE_WINDOW).accepted


def test_times_inside_the_live_window_are_kept_as_sent() -> None:
    week_ago, soon = NOW - timedelta(days=7), NOW + timedelta(hours=22)
    old, ahead = _live(_track(_iso(week_ago)), _track(_iso(soon)))
    assert (old.timestamp, old.client_timestamp) == (week_ago, None)
    assert (ahead.timestamp, ahead.client_timestamp) == (soon, None)


def test_times_outside_the_live_window_become_the_receive_time_and_are_kept_aside() -> None:
    ancient, future, naive = _live(_track("0001-01-01T00:00:00Z"), _track(_iso(NOW + timedelta(days=2))),
                                   _track("2020-05-01T00:00:00"))
    assert (ancient.timestamp, ancient.original_timestamp) == (None, None)  # ClickHouse: receivedAt
    assert ancient.client_timestamp == datetime(1, 1, 1, tzinfo=timezone.utc)
    assert future.timestamp is None and future.client_timestamp == NOW + timedelta(days=2)
    assert naive.timestamp is None and naive.client_timestamp == datetime(2020, 5, 1)


def test_original_timestamp_is_bounded_when_it_is_the_events_time() -> None:
    (event,) = _live(_track(originalTimestamp="0700-06-01T00:00:00Z"))
    assert event.original_timestamp is None and event.client_timestamp == datetime(700, 6, 1, tzinfo=timezone.utc)


def test_the_skew_corrected_time_is_bounded_too() -> None:
    # A current timestamp, but a sentAt of year 1: ClickHouse would shift it 2,000 years ahead.
    (shifted,) = _live(_track(_iso(NOW)), sentAt="0001-01-01T00:00:00Z")
    assert shifted.timestamp is None and shifted.client_timestamp == NOW
    (own_sent_at,) = _live(_track(_iso(NOW), sentAt="9999-01-01T00:00:00Z"))
    assert own_sent_at.timestamp is None
    # A device 3 hours slow with a 35-day-old clock reading: 35 days minus 3 h is still too old.
    device = NOW - timedelta(hours=3)
    (skewed,) = _live(_track(_iso(device - timedelta(days=31, hours=1))), sentAt=_iso(device))
    assert skewed.timestamp is None
    (fine,) = _live(_track(_iso(device - timedelta(days=30))), sentAt=_iso(device))
    assert fine.timestamp == device - timedelta(days=30)


def test_a_client_cannot_set_client_timestamp_itself() -> None:
    (event,) = _live(_track(_iso(NOW), clientTimestamp="2001-01-01T00:00:00Z"))
    assert event.client_timestamp is None and event.timestamp == NOW


def test_single_event_and_posthog_routes_use_the_live_window() -> None:
    body = json.dumps(_track("0300-01-01T00:00:00Z")).encode()
    (single,) = decode_single(body, "track", NOW, LIMIT, LIVE_WINDOW).accepted
    assert single.timestamp is None and single.client_timestamp is not None
    capture = json.dumps([{"event": "e", "distinct_id": "d", "timestamp": "0300-01-01T00:00:00Z"}]).encode()
    (posthog,) = decode_capture(capture, NOW, LIMIT, LIVE_WINDOW).accepted
    assert posthog.timestamp is None and posthog.client_timestamp is not None


def test_import_keeps_years_of_history_and_refuses_what_lies_outside_by_index() -> None:
    five_years_ago = NOW - timedelta(days=5 * 365)
    body = json.dumps({"batch": [_track(_iso(five_years_ago)), _track("0001-01-01T00:00:00Z"),
                                 _track(_iso(NOW + timedelta(days=3)))]}).encode()
    decoded = decode_batch(body, NOW, LIMIT, IMPORT_WINDOW)
    assert [event.timestamp for event in decoded.accepted] == [five_years_ago]
    assert [rejection.index for rejection in decoded.rejected] == [1, 2]
    assert all("outside this route's window" in rejection.reason and "3660 days" in rejection.reason
               for rejection in decoded.rejected)
