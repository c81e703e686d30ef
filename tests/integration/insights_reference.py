"""Plain-Python reference implementations of funnels and retention, the definitions the engines are checked against.

Events are `RefEvent`s (person, name, time in ms, plan property); a step or exclusion is
(name, plan or None). Ordered and strict funnels port PostHog's `steps.rs` walk event by event;
unordered funnels and retention follow the definitions in `insights.funnels` / `insights.retention`
by brute force, nothing shared with the SQL.
"""

from __future__ import annotations

import datetime as dt
import statistics
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field

OTHER = "$other"


@dataclass(frozen=True)
class RefEvent:
    person: str
    name: str
    t: int  # ms since the epoch
    plan: str | None = None
    uid: int = 0


Match = tuple[str, "str | None"]  # (event name, required plan or None)


def matches(event: RefEvent, match: Match) -> bool:
    return event.name == match[0] and (match[1] is None or event.plan == match[1])


@dataclass
class _Entered:
    start: int = 0
    excluded: bool = False
    times: list[int] = field(default_factory=list)
    uids: set[int] = field(default_factory=set)


def _ordered_walk(events: list[tuple[RefEvent, int, int, int]], n: int, window: int, strict: bool) -> tuple[int, list[int]]:
    """steps.rs over (event, countable bits, raw bits, exclusion bits) sorted by time; (reached, step times)."""
    entered = [_Entered() for _ in range(n + 1)]
    best_k, best = 0, _Entered()

    def process(event: RefEvent, countable: int, raw: int, exclusion: int, multi: bool) -> None:
        nonlocal best_k, best
        t = event.t
        entered[0] = _Entered(t)
        # steps.rs walks the event's list [steps ascending..., exclusions -2, -3, ...] backwards.
        exclusions = [] if multi else [-(k + 1) for k in range(1, n) if exclusion >> (k - 1) & 1]
        listed = [s for s in range(1, n + 1) if raw >> (s - 1) & 1] + exclusions
        for value in reversed(listed):
            is_exclusion = value < 0
            step = -value if is_exclusion else value
            previous = entered[step - 1]
            in_window = previous.start != 0 and t - previous.start <= window
            already = entered[step].start == previous.start and entered[step].start != 0
            if not in_window or already:
                continue
            if is_exclusion:
                if not previous.excluded:
                    previous.excluded = True
                    if best_k == step - 1 and t - best.start <= window:
                        best.excluded = True
                continue
            if not countable >> (step - 1) & 1:
                continue  # step 1 of another bucket
            if multi and event.uid in previous.uids:
                continue
            new = _Entered(previous.start, previous.excluded, previous.times + [t], previous.uids | {event.uid})
            if not previous.excluded:
                entered[step] = new
            if step > best_k or (step == best_k and best.excluded):
                best_k, best = step, _Entered(new.start, new.excluded, list(new.times), set(new.uids))
        if strict and not multi:
            for k in range(1, n + 1):
                if not raw >> (k - 1) & 1:
                    entered[k] = _Entered()

    index = 0
    while index < len(events):
        group = [e for e in events[index:] if e[0].t == events[index][0].t]
        index += len(group)
        if len({(raw, exclusion) for _, _, raw, exclusion in group}) == 1:
            for event, countable, raw, exclusion in sorted(group, key=lambda e: e[1]):
                process(event, countable, raw, exclusion, False)
        else:
            pairs = [(s, event, countable & (1 << (s - 1)), 1 << (s - 1))
                     for event, countable, raw, _ in group for s in range(1, n + 1) if raw >> (s - 1) & 1]
            for _, event, countable, raw in sorted(pairs, key=lambda p: (p[0], p[2], p[1].uid)):
                process(event, countable, raw, 0, True)
    return (0 if best.excluded else best_k), best.times


def _unordered_walk(events: list[tuple[RefEvent, bool, int, int]], n: int, window: int) -> tuple[int, list[int]]:
    """(event, is anchor, step bits, exclusion bits): the furthest clean anchor's (reached, step times)."""
    anchors = []
    for anchor, is_anchor, _, _ in events:
        if not is_anchor:
            continue
        firsts = []
        for k in range(n):
            times = [e.t for e, _, bits, _ in events if bits >> k & 1 and anchor.t <= e.t <= anchor.t + window]
            if times:
                firsts.append(min(times))
        firsts.sort()
        done = firsts[-1]
        tainted = any(x != 0 and e.t > anchor.t and (e.t < done if len(firsts) == n else e.t <= anchor.t + window)
                      for e, _, _, x in events)
        anchors.append((len(firsts), tainted, firsts))
    if not anchors:
        return 0, []
    furthest = max(a[0] for a in anchors)
    clean = [a for a in anchors if a[0] == furthest and not a[1]]
    return (furthest, clean[0][2]) if clean else (0, [])


@dataclass(frozen=True)
class RefFunnel:
    steps: list[Match]
    range_start: int
    range_end: int
    window: int
    order: str = "ordered"
    exclusions: list[tuple[Match, int, int]] = field(default_factory=list)
    breakdown: bool = False  # by the step-1 event's plan
    breakdown_limit: int = 25


def _stats(n: int, results: list[tuple[int, list[int]]]) -> list[tuple[int, float | None, float | None]]:
    out = []
    for k in range(1, n + 1):
        reached = [times for r, times in results if r >= k]
        durations = [(times[k - 1] - times[k - 2]) / 1000 for times in reached] if k > 1 else []
        out.append((len(reached), statistics.fmean(durations) if durations else None,
                    statistics.median(durations) if durations else None))
    return out


def reference_funnel(events: list[RefEvent], funnel: RefFunnel) -> dict[object, list[tuple[int, float | None, float | None]]]:
    """{"all": per step (count, mean s, median s), value: ..., OTHER: ...} for the breakdown buckets present."""
    n = len(funnel.steps)
    by_person: dict[str, list[RefEvent]] = defaultdict(list)
    for event in events:
        if funnel.range_start <= event.t < funnel.range_end + funnel.window:
            by_person[event.person].append(event)
    unordered = funnel.order == "unordered"

    def raw_bits(e: RefEvent) -> int:
        return sum(1 << i for i, m in enumerate(funnel.steps) if matches(e, m))

    def exclusion_bits(e: RefEvent) -> int:
        return sum(sum(1 << (k - 1) for k in range(f, t)) for m, f, t in funnel.exclusions if matches(e, m))

    def entering(e: RefEvent) -> bool:
        return e.t < funnel.range_end and bool(raw_bits(e) if unordered else raw_bits(e) & 1)

    value_persons: dict[str | None, set[str]] = defaultdict(set)
    for person, evs in by_person.items():
        for e in evs:
            if entering(e):
                value_persons[e.plan].add(person)
    ranked = sorted(value_persons, key=lambda v: (-len(value_persons[v]), v is None, v or ""))
    top = set(ranked[:funnel.breakdown_limit]) if funnel.breakdown else set()
    results: dict[object, list[tuple[int, list[int]]]] = defaultdict(list)
    for evs in by_person.values():
        evs = [e for e in evs if funnel.order == "strict" or raw_bits(e) or exclusion_bits(e)]
        evs = [RefEvent(e.person, e.name, e.t, e.plan, uid) for uid, e in enumerate(sorted(evs, key=lambda e: (e.t, raw_bits(e), exclusion_bits(e))))]
        if not any(entering(e) for e in evs):
            continue
        buckets: list[object] = ["all"]
        if funnel.breakdown:
            buckets += sorted({e.plan if e.plan in top else OTHER for e in evs if entering(e)}, key=str)
        for bucket in buckets:
            def enters(e: RefEvent, bucket: object = bucket) -> bool:
                return entering(e) and (bucket == "all" or (bucket == OTHER and e.plan not in top)
                                        or (bucket != OTHER and e.plan == bucket))
            if unordered:
                walked = _unordered_walk([(e, enters(e), raw_bits(e), exclusion_bits(e)) for e in evs], n, funnel.window)
            else:
                walked = _ordered_walk([(e, raw_bits(e) if enters(e) else raw_bits(e) & ~1, raw_bits(e), exclusion_bits(e))
                                        for e in evs], n, funnel.window, funnel.order == "strict")
            if walked[0] > 0:
                results[bucket].append(walked)
    return {bucket: _stats(n, walked) for bucket, walked in results.items()}


def reference_retention(events: list[RefEvent], persons: dict[str, str], start: Match, returning: Match,
                        date_from: dt.date, date_to: dt.date, timezone: str, interval: str, periods: int,
                        kind: str, window: str, cumulative: bool) -> list[tuple[dt.date, list[int]]]:
    """[(cohort start, values)] by brute force; `persons` maps a distinct id to its person (missing: itself)."""
    from insights.retention import _ROLLING_MS, _next, cohort_starts

    tz = zoneinfo.ZoneInfo(timezone)
    starts = cohort_starts(interval, date_from, date_to)  # type: ignore[arg-type]
    bounds = [int(dt.datetime.combine(s, dt.time(), tz).timestamp() * 1000) for s in starts]
    bounds.append(int(dt.datetime.combine(_next(interval, starts[-1]), dt.time(), tz).timestamp() * 1000))  # type: ignore[arg-type]

    def bucket(t: int) -> int:
        return max(i for i, b in enumerate(bounds) if b <= t) if bounds[0] <= t < bounds[-1] else -1

    by_person: dict[str, list[RefEvent]] = defaultdict(list)
    for e in events:
        by_person[persons.get(e.person, e.person)].append(e)
    cells = [[set() for _ in range(periods)] for _ in starts]  # type: ignore[var-annotated]
    for person, evs in by_person.items():
        start_times = sorted(e.t for e in evs if matches(e, start) and e.t < bounds[-1])
        returns = [e.t for e in evs if matches(e, returning) and bounds[0] <= e.t < bounds[-1]]
        if kind == "first_time":
            anchors = {bucket(start_times[0]): start_times[0]} if start_times and start_times[0] >= bounds[0] else {}
        else:
            anchors = {}
            for t in start_times:
                if t >= bounds[0]:
                    anchors.setdefault(bucket(t), t)
        for cohort, anchor in anchors.items():
            if window == "calendar":
                got = {bucket(t) - cohort for t in returns}
            else:
                got = {(t - anchor) // _ROLLING_MS[interval] for t in returns if t >= anchor}
            for k in range(periods):
                if k == 0 or (k in got if not cumulative else any(g >= k for g in got)):
                    if cohort + k < len(starts) or k == 0:
                        cells[cohort][k].add(person)
    return [(s, [len(cells[i][k]) for k in range(min(periods, len(starts) - i))]) for i, s in enumerate(starts)]
