"""Funnels: how many persons reach each step, computed in ClickHouse, one query.

Semantics (PostHog's `funnel-udf/src/steps.rs` walk, ported to SQL):
- A person reaches step k when steps 1..k happen in order with step k at most
  `window_seconds` after step 1 (inclusive); the furthest step over all the person's attempts
  counts. Step 1 must fall in the date range (local days in `timezone`); later steps may fall
  after `date_to`, within the window. Counts mean "reached at least k".
- Events are walked in time order; an event matching several steps is tried for the highest
  step first (one event never serves two steps of one attempt). Events of one person at the
  same millisecond with different step sets are tried in step order, one step at a time, with
  exclusions and strict resets skipped (as PostHog does).
- `strict`: every other event (any `event`) of the person resets the chains it does not continue.
- `unordered`: a person reaches k when some window [t, t + window] starting at an event of
  any step in the date range holds events of k different steps (an event matching two steps'
  definitions counts for both).
- Exclusions (`from_step` < `to_step`, numbered from 1): an exclusion event after step
  `from_step` and before step `to_step` of the person's furthest attempt (within its window)
  removes the person from the funnel; an exclusion at the very millisecond of a step does not.
  Unordered funnels accept only exclusions over the whole funnel (1 .. last step).
- Breakdown: the value of the step-1 event (an SQL expression, NULL = missing); a person
  counts in each value their step-1 events had. The top `breakdown_limit` values by persons
  entering the funnel are kept (ties by value, missing last); the rest form `"$other"`, where a
  person counts once.
- Times: mean and median (interpolated, numpy's) seconds from the previous step over the
  persons who reached the step, from their counted attempt (zero seconds included).
- Persons come from `collector.persons.resolution`; resent events count once (`events FINAL`).

Cost: one scan, one GROUP BY person building a sorted array of the matching events, then array
passes over it, linear in events × steps (no `windowFunnel`: it refuses DateTime64, is wrong
for strict and grows steeply with steps). Ordered funnels without exclusions whose steps name
different events walk chains (a few array passes per step); strict funnels, exclusions and
steps sharing an event name run the full steps.rs walk as one `arrayFold` whose state is an
array per field; unordered funnels take one reverse fill per step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from collector.persons.resolution import DISTINCT_ID, PERSON_PROPERTIES, person_id, person_key
from collector.storage.clickhouse import Client
from insights.matching import EngineInputError, EventMatch, namespaced, range_bounds

__all__ = [
    "FunnelOrder", "ORDERS", "Exclusion", "FunnelBreakdown", "FunnelQuery", "FunnelStep", "BreakdownFunnel",
    "FunnelResult", "FunnelPersons", "MAX_STEPS", "MAX_WINDOW_SECONDS", "OTHER", "DEFAULT_WINDOW_SECONDS",
    "validate_funnel_query", "funnel", "funnel_persons",
]

FunnelOrder = Literal["ordered", "strict", "unordered"]
ORDERS: tuple[str, ...] = FunnelOrder.__args__  # type: ignore[attr-defined]
MAX_STEPS = 20
DEFAULT_WINDOW_SECONDS = 14 * 86400
MAX_WINDOW_SECONDS = 366 * 86400
MAX_BREAKDOWN_LIMIT = 100
MAX_PAGE = 10_000
OTHER = "$other"


@dataclass(frozen=True)
class Exclusion:
    """Persons whose counted attempt has `match` between steps `from_step` and `to_step` drop out."""

    match: EventMatch
    from_step: int
    to_step: int


@dataclass(frozen=True)
class FunnelBreakdown:
    """Group by `sql` (a Nullable(String) expression over the step-1 event row; NULL = missing)."""

    sql: str
    parameters: dict[str, Any] = field(default_factory=dict)
    limit: int = 25


@dataclass(frozen=True)
class FunnelQuery:
    """One funnel. `person_properties`: conditions and breakdown may read the column
    `person_properties` (the person's latest properties, JSON text, '' when none)."""

    steps: tuple[EventMatch, ...]
    date_from: dt.date
    date_to: dt.date
    timezone: str = "UTC"
    window_seconds: int = DEFAULT_WINDOW_SECONDS
    order: FunnelOrder = "ordered"
    exclusions: tuple[Exclusion, ...] = ()
    breakdown: FunnelBreakdown | None = None
    person_properties: bool = False


@dataclass(frozen=True)
class FunnelStep:
    """Persons who reached the step; conversions are fractions (0..1); times None at step 1 or when no one reached it."""

    event: str
    count: int
    conversion_from_first: float
    conversion_from_previous: float
    mean_seconds_from_previous: float | None
    median_seconds_from_previous: float | None


@dataclass(frozen=True)
class BreakdownFunnel:
    """The funnel of the persons whose step-1 event had `value` (None: missing; `OTHER`: the rest)."""

    value: str | None
    steps: tuple[FunnelStep, ...]


@dataclass(frozen=True)
class FunnelResult:
    """`steps` over everyone; `breakdowns` (largest first, `OTHER` last) when the query has a breakdown."""

    steps: tuple[FunnelStep, ...]
    breakdowns: tuple[BreakdownFunnel, ...] = ()


@dataclass(frozen=True)
class FunnelPersons:
    """One page of person ids (sorted), and whether more follow."""

    person_ids: tuple[str, ...]
    has_more: bool


def validate_funnel_query(query: FunnelQuery) -> None:
    """Raise EngineInputError naming the field of an impossible funnel."""
    if not 2 <= len(query.steps) <= MAX_STEPS:
        raise EngineInputError("steps", f"a funnel has 2 to {MAX_STEPS} steps, got {len(query.steps)}")
    for index, step in enumerate(query.steps):
        if not step.event:
            raise EngineInputError(f"steps[{index}].event", "is empty")
    if query.order not in ORDERS:
        raise EngineInputError("order", f"must be one of {', '.join(ORDERS)}")
    if not 0 < query.window_seconds <= MAX_WINDOW_SECONDS:
        raise EngineInputError("window_seconds", f"must be between 1 and {MAX_WINDOW_SECONDS}")
    range_bounds(query.date_from, query.date_to, query.timezone)
    for index, exclusion in enumerate(query.exclusions):
        where = f"exclusions[{index}]"
        if not exclusion.match.event:
            raise EngineInputError(f"{where}.event", "is empty")
        if not 1 <= exclusion.from_step < exclusion.to_step <= len(query.steps):
            raise EngineInputError(f"{where}.from_step",
                                   f"needs 1 <= from_step < to_step <= {len(query.steps)}")
        if query.order == "unordered" and (exclusion.from_step, exclusion.to_step) != (1, len(query.steps)):
            raise EngineInputError(f"{where}.from_step", "an unordered funnel excludes over all its steps only")
        if exclusion.match in query.steps[exclusion.from_step - 1:exclusion.to_step]:
            raise EngineInputError(f"{where}.event", "is one of the steps it excludes between")
    if query.breakdown is not None and not 1 <= query.breakdown.limit <= MAX_BREAKDOWN_LIMIT:
        raise EngineInputError("breakdown_limit", f"must be between 1 and {MAX_BREAKDOWN_LIMIT}")


# The buckets a person's walk runs for: everyone (the overall funnel), one kept breakdown value, `$other`.
_ALL, _VALUE, _OTHER = 0, 1, 2
_NULL = "CAST(NULL AS Nullable(String))"


class _FunnelSql:
    """Builds the per-(person, bucket) walk of one funnel query; `parameters` collects every bound value."""

    def __init__(self, query: FunnelQuery) -> None:
        validate_funnel_query(query)
        self.query = query
        self.n = len(query.steps)
        start, end = range_bounds(query.date_from, query.date_to, query.timezone)
        self.parameters: dict[str, Any] = {
            "range_start": start,
            "range_end_ms": int(end.timestamp() * 1000),
            "fetch_end": end + dt.timedelta(seconds=query.window_seconds),
            "window_ms": query.window_seconds * 1000,
        }
        self.steps = [self._condition(step, f"s{i + 1}") for i, step in enumerate(query.steps)]
        # Exclusion bit k-1 set: the event excludes between steps k and k+1 of an attempt.
        self.exclusions = [
            (self._condition(e.match, f"x{i}"), sum(1 << (k - 1) for k in range(e.from_step, e.to_step)))
            for i, e in enumerate(query.exclusions)
        ]
        names = [step.event for step in query.steps] + [e.match.event for e in query.exclusions]
        # One event can match two definitions only when they share an event name.
        self.overlapping = len(set(names)) < len(names)

    def _condition(self, match: EventMatch, prefix: str) -> str:
        sql, parameters = match.condition(prefix, f"{prefix}_event")
        self.parameters.update(parameters)
        return sql

    def _breakdown(self, breakdown: FunnelBreakdown) -> str:
        sql, parameters = namespaced(breakdown.sql, breakdown.parameters, "b")
        self.parameters.update(parameters)
        self.parameters["breakdown_limit"] = breakdown.limit
        return f"CAST(({sql}) AS Nullable(String))"

    def _source(self) -> str:
        if not self.query.person_properties:
            return "events FINAL"
        return (f"(SELECT *, ifNull(pp.properties, '') AS person_properties FROM events FINAL "
                f"LEFT JOIN {PERSON_PROPERTIES} AS pp ON pp.person_key = {person_key(DISTINCT_ID)})")

    def _rows(self) -> str:
        """One row per event that matters: person, time (ms), step bits, in range, exclusion bits, breakdown value."""
        steps = " + ".join(f"bitShiftLeft(toUInt32({c}), {i})" for i, c in enumerate(self.steps))
        exclusions = " + ".join(f"toUInt32({c}) * {bits}" for c, bits in self.exclusions) or "0"
        breakdown = self.query.breakdown
        value = ("" if breakdown is None else f", if(in_range AND raw != 0, {self._breakdown(breakdown)}, {_NULL}) AS value")
        wanted = ("event != ''" if self.query.order == "strict"
                  else " OR ".join([*self.steps, *(c for c, _ in self.exclusions)]))
        return f"""
            SELECT {person_key(DISTINCT_ID)} AS person, {DISTINCT_ID} AS distinct_id,
                   toUnixTimestamp64Milli(timestamp) AS t, toUInt32({steps}) AS raw, toUInt32({exclusions}) AS excluding,
                   toUInt8(t < {{range_end_ms:Int64}}) AS in_range{value}
            FROM {self._source()}
            WHERE timestamp >= {{range_start:DateTime64(3, 'UTC')}} AND timestamp < {{fetch_end:DateTime64(3, 'UTC')}}
              AND ({wanted})"""

    def per_person(self) -> str:
        """Rows (person, distinct_id, bucket_kind, bucket_value, reached, step_times): reached ≥ 1, not excluded."""
        unordered = self.query.order == "unordered"
        entering_bit = "raw != 0" if unordered else "bitTest(raw, 0)"
        if self.query.breakdown is None:
            top, buckets = "CAST([] AS Array(Nullable(String)))", f"[(toUInt8({_ALL}), {_NULL})]"
        else:
            top = f"""(SELECT arrayMap(v -> v.1, groupArray(tuple(value))) FROM (
                SELECT value FROM ({self._rows()}) WHERE in_range AND {entering_bit}
                GROUP BY value ORDER BY uniqExact(person) DESC, value ASC NULLS LAST LIMIT {{breakdown_limit:UInt32}}))"""
            buckets = f"""arrayConcat([(toUInt8({_ALL}), {_NULL})], arrayDistinct(arrayMap(
                e -> if(has(top, e.5), (toUInt8({_VALUE}), e.5), (toUInt8({_OTHER}), {_NULL})),
                arrayFilter(e -> e.4 AND {entering_bit.replace('raw', 'e.2')}, events))))"""
        # May an event start an attempt of this bucket? (in range, and its value belongs to the bucket)
        enters = (f"e.4 AND (bucket.1 = {_ALL} OR (bucket.1 = {_VALUE} AND e.5 IS NOT DISTINCT FROM bucket.2)"
                  f" OR (bucket.1 = {_OTHER} AND NOT has(top, e.5)))") if self.query.breakdown is not None else "e.4"
        carried = "t, raw, excluding, in_range" + (", value" if self.query.breakdown is not None else "")
        if unordered:
            stages = _unordered_stages(self.n, enters, bool(self.exclusions))
        elif self.query.order == "ordered" and not self.exclusions and not self.overlapping:
            stages = _greedy_stages(self.n, enters)
        else:
            stages = _ordered_stages(self.n, enters, strict=self.query.order == "strict",
                                     exclusions=bool(self.exclusions), overlapping=self.overlapping,
                                     breakdown=self.query.breakdown is not None)
        # Each stage a subquery level: a column computed once, where an alias would be copied into every use.
        walked = f"""
                SELECT person, min(distinct_id) AS distinct_id,
                       arraySort(groupArray(({carried}))) AS events
                FROM ({self._rows()})
                GROUP BY person
                HAVING max(in_range AND {entering_bit}) = 1"""
        walked = f"SELECT *, {top} AS top, arrayJoin({buckets}) AS bucket FROM ({walked})"
        for stage in stages:
            walked = f"SELECT *, {', '.join(stage)} FROM ({walked})"
        return f"""
        SELECT person, distinct_id, bucket.1 AS bucket_kind, bucket.2 AS bucket_value, reached, step_times
        FROM ({walked})
        WHERE reached > 0"""


def _greedy_stages(n: int, enters: str) -> list[list[str]]:
    """Columns computing the ordered walk without exclusions, when no event matches two steps.

    Then steps.rs reduces to chains: from each step-1 event, step k is the first event of step k
    after step k-1 (events sorted by time, then step: same-millisecond events count in step
    order), within the window of the start. The furthest chain counts; its step times are those
    of the chain that completes first, from the latest start among them (the attempt steps.rs
    keeps). Checked against the steps.rs port on random events. A few array passes per step,
    no fold: the common funnel's fast path.
    """
    window = "{window_ms:Int64}"
    columns = ["arrayEnumerate(events) AS idx", "arrayMap(e -> e.1, events) AS times",
               "arrayMap(e -> e.2, events) AS masks",
               f"arrayFilter((i, e) -> bitTest(e.2, 0) AND ({enters}), arrayEnumerate(events), events) AS starts"]
    fills = [f"arrayReverseFill(x -> x != 0, arrayMap((m, i) -> if(bitTest(m, {k - 1}), i, 0), masks, idx)) AS next{k}"
             for k in range(2, n + 1)]
    stages = [columns, fills, ["starts AS chain1"]]
    for k in range(2, n + 1):
        stages.append([f"arrayMap((p, s) -> if(p = 0 OR next{k}[p + 1] = 0"
                       f" OR times[next{k}[p + 1]] - times[s] > {window}, 0, next{k}[p + 1]),"
                       f" chain{k - 1}, starts) AS chain{k}"])
    chains = ", ".join(f"chain{k}" for k in range(1, n + 1))
    stages.append([f"arrayMap(({', '.join(f'c{k}' for k in range(1, n + 1))}) -> [{', '.join(f'c{k}' for k in range(1, n + 1))}],"
                   f" {chains}) AS chains"])
    stages.append(["arrayMap(c -> toUInt8(arrayCount(x -> x != 0, c)), chains) AS chain_steps",
                   "arrayMax(arrayPushBack(chain_steps, toUInt8(0))) AS furthest"])
    # The furthest chains; of them the one ending first, then the latest start.
    stages.append(["arraySort(c -> (c[furthest], -toInt64(c[1])), arrayFilter((c, r) -> r = furthest, chains, chain_steps))"
                   " AS counted"])
    stages.append(["furthest AS reached",
                   "if(furthest = 0, CAST([] AS Array(Int64)),"
                   " arrayMap(i -> times[i], arraySlice(counted[1], 1, furthest))) AS step_times"])
    return stages


def _ordered_stages(n: int, enters: str, *, strict: bool, exclusions: bool, overlapping: bool,
                    breakdown: bool) -> list[list[str]]:
    """Columns computing the steps.rs walk over `events` for one bucket, ending in `reached`, `step_times`.

    `events` are (t, raw step bits, exclusion bits, in range[, breakdown value]) in tuple order (time first).
    reached is 0 when the furthest attempt was excluded.
    """
    # (t, bits that may count, raw bits, exclusion bits): step 1 only counts when the event enters the bucket.
    attributed = f"arrayMap(e -> (e.1, if({enters}, e.2, bitAnd(e.2, toUInt32(4294967294))), e.2, e.3), events)"
    # PostHog's pruning: an event with at most one bit, equal to both neighbours and strictly between them
    # in time, changes nothing.
    pruned = """arrayFilter((x, b, a) -> NOT (bitCount(x.3) + bitCount(x.4) <= 1 AND x.2 = b.2 AND x.3 = b.3
        AND x.4 = b.4 AND x.2 = a.2 AND x.3 = a.3 AND x.4 = a.4 AND x.1 > b.1 AND x.1 < a.1),
        att, arrayRotateRight(att, 1), arrayRotateLeft(att, 1))"""
    if breakdown:  # same-millisecond events: those whose step 1 counts for this bucket last
        pruned = f"arraySort(x -> (x.1, x.2), {pruned})"
    # Milliseconds holding events with different step sets: those events are tried one step at a time.
    mixed = "arrayMap(x -> x.1, arrayFilter((x, a) -> x.1 = a.1 AND (x.3 != a.3 OR x.4 != a.4), pr, arrayRotateLeft(pr, 1)))"
    # Elements (t, step that counts or 0, raw bits, exclusion bits, one-step?, event bit, strict reset after?):
    # an event of several steps becomes one element per step, highest first, exclusions on the first,
    # the strict reset after the last.
    step_of = "if(bitTest(x.2, s), toUInt8(s + 1), toUInt8(0))"
    one_step = (f"arrayMap(s -> (x.1, {step_of}, bitShiftLeft(toUInt32(1), s), toUInt32(0), toUInt8(1),"
                " bitShiftLeft(toUInt64(1), i % 64), toUInt8(0)), if(has(mixed_ms, x.1), bitPositionsToArray(x.3), []))")
    parts = (f"arrayMap((s, p) -> (x.1, {step_of}, x.3, if(p = 1, x.4, toUInt32(0)), toUInt8(0), toUInt64(0),"
             " toUInt8(p = bitCount(x.3))), arrayReverse(bitPositionsToArray(x.3)) AS bits, arrayEnumerate(bits))")
    single = ("[(x.1, if(x.2 = 0, toUInt8(0), toUInt8(bitPositionsToArray(x.2)[1] + 1)), x.3, x.4, toUInt8(0),"
              " toUInt64(0), toUInt8(1))]")
    split = f"if(bitCount(x.3) <= 1, {single}, {parts})" if overlapping else single
    expanded = f"arrayFlatten(arrayMap((x, i) -> if(has(mixed_ms, x.1), {one_step}, {split}), pr, arrayEnumerate(pr)))"
    if not overlapping:  # the common case, no millisecond with different steps: no flattening
        expanded = f"if(empty(mixed_ms), arrayMap(x -> {single}[1], pr), {expanded.replace(', pr, ', ', if(empty(mixed_ms), [], pr), ')})"
        expanded = expanded.replace("arrayEnumerate(pr)", "arrayEnumerate(if(empty(mixed_ms), [], pr))")
    # Only rows with such a millisecond sort (the others sort an empty array: `if` evaluates both sides).
    mixed_only = "if(empty(mixed_ms), [], flat)"
    elements = f"arraySort((x, i) -> (x.1, x.5 * x.3, if(x.5, x.6, i)), {mixed_only}, arrayEnumerate({mixed_only}))"
    fold = _ArrayWalk(n, strict=strict, exclusions=exclusions, overlapping=overlapping)
    return [[f"{attributed} AS att"], [f"{pruned} AS pr"], [f"{mixed} AS mixed_ms"], [f"{expanded} AS flat"],
            [f"if(empty(mixed_ms), flat, {elements}) AS elements"],
            [f"arrayFold((acc, e) -> {fold.step()}, elements, {fold.initial()}) AS walked"], fold.outcome("walked")]


class _ArrayWalk:
    """The arrayFold of the ordered walk: per-step state in arrays, so one element costs the same
    expression whatever the number of steps (its copying grows with it, not its planning).

    State: S (per step: step-1 time of the attempt that last reached it, 0: none), T (its step
    times), X (tainted by an exclusion), U (events of the current millisecond it used, one bit
    each); mk, ms, mt (the furthest step, its attempt's step-1 time and step times), mx (that
    attempt was excluded). Element e = (t, step that counts or 0, raw bits, exclusion bits,
    one-step?, event bit, strict reset after?).
    """

    def __init__(self, n: int, *, strict: bool, exclusions: bool, overlapping: bool) -> None:
        self.n, self.strict, self.exclusions, self.overlapping = n, strict, exclusions, overlapping

    def initial(self) -> str:
        n = self.n
        # X and U stay empty when the funnel has no exclusions / no two definitions of one event name.
        tainted = f"arrayWithConstant({n if self.exclusions else 0}, toUInt8(0))"
        used = f"arrayWithConstant({n if self.overlapping else 0}, toUInt64(0))"
        return (f"(arrayWithConstant({n}, toInt64(0)), arrayWithConstant({n}, CAST([] AS Array(Int64))),"
                f" {tainted}, {used}, toUInt8(0), toInt64(0), CAST([] AS Array(Int64)), toUInt8(0))")

    def outcome(self, acc: str) -> list[str]:
        """reached (0 when the furthest attempt was excluded) and its step times."""
        return [f"if({acc}.8, toUInt8(0), {acc}.5) AS reached", f"{acc}.7 AS step_times"]

    def step(self) -> str:
        n, window = self.n, "{window_ms:Int64}"
        S, T, X, U, mk, ms, mt, mx = (f"acc.{i}" for i in range(1, 9))
        k, kk = "e.2", "greatest(e.2, 1)"
        steps = f"range(1, {n + 1})"
        if self.exclusions:
            # An exclusion taints the attempt at step i (i < n) when it falls in its window before it reached i+1.
            taint = (f"arrayMap((x, s, sn, i) -> NOT e.5 AND bitTest(e.4, i - 1) AND i < {n} AND s != 0"
                     f" AND e.1 - s <= {window} AND sn != s AND NOT x, {X}, {S},"
                     f" arrayPushBack(arrayPopFront({S}), toInt64(0)), {steps})")
            X1 = f"arrayMap((x, c) -> x OR c, {X}, {taint})"
            mx1 = f"({mx} OR ({mk} >= 1 AND {taint}[{mk}] AND e.1 - {ms} <= {window}))"
        else:
            X1, mx1 = X, mx
        prev_start = f"if({k} = 1, e.1, {S}[{kk} - 1])"
        prev_x = f"if({k} <= 1, toUInt8(0), {X1}[{kk} - 1])"
        prev_times = f"if({k} <= 1, CAST([] AS Array(Int64)), {T}[{kk} - 1])"
        ok = (f"({k} >= 1 AND ({k} = 1 OR ({S}[{kk} - 1] != 0 AND e.1 - {S}[{kk} - 1] <= {window}))"
              f" AND NOT ({S}[{kk}] = {prev_start} AND {S}[{kk}] != 0)")
        if self.overlapping:
            ok += f" AND NOT ({k} > 1 AND e.5 AND {T}[{kk} - 1][-1] = e.1 AND bitAnd({U}[{kk} - 1], e.6) != 0)"
        ok += ")"
        write = f"({ok} AND NOT {prev_x})"
        times = f"arrayPushBack({prev_times}, e.1)"

        def put(array: str, value: str) -> str:
            return f"if({write}, arrayConcat(arraySlice({array}, 1, {kk} - 1), [{value}], arraySlice({array}, {kk} + 1)), {array})"

        used = f"bitOr(if({k} > 1 AND {T}[{kk} - 1][-1] = e.1, {U}[{kk} - 1], toUInt64(0)), e.6)"
        fields = [put(S, prev_start), put(T, times), put(X1, "toUInt8(0)") if self.exclusions else X,
                  put(U, used) if self.overlapping else U]
        if self.strict:  # after the event's last element: every chain it does not continue starts over
            empty = {0: "toInt64(0)", 1: "CAST([] AS Array(Int64))", 2: "toUInt8(0)", 3: "toUInt64(0)"}
            needed = (True, True, self.exclusions, self.overlapping)
            fields = [f"if(e.7 AND NOT e.5, arrayMap((v, i) -> if(bitTest(e.3, i - 1), v, {empty[j]}), {f}, {steps}), {f})"
                      if needed[j] else f for j, f in enumerate(fields)]
        beats = f"({ok} AND ({k} > {mk} OR ({k} = {mk} AND {mx1})))"
        fields += [f"if({beats}, {k}, {mk})", f"if({beats}, {prev_start}, {ms})", f"if({beats}, {times}, {mt})",
                   f"if({beats}, {prev_x}, {mx1})"]
        return "(" + ", ".join(fields) + ")"


def _unordered_stages(n: int, enters: str, exclusions: bool) -> list[list[str]]:
    """Columns computing the unordered funnel over `events` for one bucket, ending in `reached`, `step_times`.

    For each anchor (an event of any step that enters the bucket) the window [t, t + window] holds
    the first event of each step at or after t (same millisecond included); its steps reached are
    those found. The furthest anchor counts; the person is excluded when every anchor reaching
    that far has an exclusion event strictly after t and before its last step (or, short of the
    last step, within the window). Linear in events × steps: one reverse fill per step.
    """
    window = "{window_ms:Int64}"
    fills = [f"arrayReverseFill(x -> x != 0, arrayMap(e -> if(bitTest(e.2, {k}), e.1, 0), events)) AS next{k}"
             for k in range(n)]
    fills += [
        "arrayFill(x -> x != 0, arrayMap((e, i, b) -> if(i = 1 OR e.1 != b.1, i, 0), events, arrayEnumerate(events),"
        " arrayRotateRight(events, 1))) AS group_first",
        "arrayReverseFill(x -> x != 0, arrayMap((e, i, a) -> if(i = length(events) OR e.1 != a.1, i, 0), events,"
        " arrayEnumerate(events), arrayRotateLeft(events, 1))) AS group_last",
        f"arrayMap(e -> {enters} AND e.2 != 0, events) AS anchor_at",
    ]
    if exclusions:
        fills.append("arrayReverseFill(x -> x != 0, arrayMap(e -> if(e.3 != 0, e.1, 0), events)) AS next_exclusion")
    firsts = "arrayMap(g -> [" + ", ".join(f"next{k}[g]" for k in range(n)) + "], group_first)"
    in_window = f"arrayMap((f, e) -> arrayMap(x -> if(x != 0 AND x - e.1 <= {window}, x, 0), f), firsts, events)"
    stages = [fills, [f"{firsts} AS firsts"], [f"{in_window} AS in_window"],
              ["arrayMap(w -> toUInt8(arrayCount(x -> x != 0, w)), in_window) AS reach_at",
               "arrayMap(w -> arraySort(arrayFilter(x -> x != 0, w)), in_window) AS times_at"]]
    if exclusions:
        after = "if(l < length(events), next_exclusion[l + 1], toInt64(0))"
        stages.append([f"arrayMap((l, e, r, w) -> {after} != 0 AND if(r = {n}, {after} < arrayMax(w),"
                       f" {after} - e.1 <= {window}), group_last, events, reach_at, times_at) AS tainted_at"])
    else:
        stages.append(["arrayMap(e -> 0, events) AS tainted_at"])
    stages.append(["arrayMax(arrayMap((a, r) -> if(a, r, 0), anchor_at, reach_at)) AS furthest"])
    stages.append(["arrayFirstIndex((a, r, x) -> a AND r = furthest AND NOT x, anchor_at, reach_at, tainted_at)"
                   " AS chosen"])
    stages.append(["if(chosen = 0, toUInt8(0), furthest) AS reached",
                   "if(chosen = 0, CAST([] AS Array(Int64)), times_at[chosen]) AS step_times"])
    return stages


_COUNTS_SQL = """
SELECT bucket_kind, bucket_value,
       sumForEach(arrayMap(k -> toUInt64(reached >= k), range(1, {steps:UInt8} + 1))) AS counts,
       avgForEach(durations) AS means, quantileExactInclusiveForEach(0.5)(durations) AS medians
FROM (
    SELECT *, arrayMap((a, b) -> (b - a) / 1000, arrayPopBack(step_times), arrayPopFront(step_times)) AS durations
    FROM ({per_person})
)
GROUP BY bucket_kind, bucket_value
"""


def funnel(client: Client, query: FunnelQuery) -> FunnelResult:
    """Run the funnel; raises EngineInputError for an impossible query (before any SQL runs)."""
    sql = _FunnelSql(query)
    text = _COUNTS_SQL.replace("{per_person}", sql.per_person())
    rows = client.query(text, parameters={**sql.parameters, "steps": sql.n}).result_rows
    by_bucket = {(kind, value): _steps(query, counts, means, medians) for kind, value, counts, means, medians in rows}
    overall = by_bucket.pop((_ALL, None), _steps(query, [], [], []))
    if query.breakdown is None:
        return FunnelResult(overall)
    values = sorted(((value, steps) for (kind, value), steps in by_bucket.items() if kind == _VALUE),
                    key=lambda item: (-item[1][0].count, item[0] is None, item[0] or ""))
    breakdowns = [BreakdownFunnel(value, steps) for value, steps in values]
    if (_OTHER, None) in by_bucket:
        breakdowns.append(BreakdownFunnel(OTHER, by_bucket[(_OTHER, None)]))
    return FunnelResult(overall, tuple(breakdowns))


def _steps(query: FunnelQuery, counts: Sequence[int], means: Sequence[float], medians: Sequence[float]
           ) -> tuple[FunnelStep, ...]:
    steps = []
    first = counts[0] if counts else 0
    for index, step in enumerate(query.steps):
        count = int(counts[index]) if index < len(counts) else 0
        previous = (int(counts[index - 1]) if index - 1 < len(counts) else 0) if index else count
        mean = _number(means, index - 1) if index and count else None
        median = _number(medians, index - 1) if index and count else None
        steps.append(FunnelStep(step.event, count, count / first if first else 0.0,
                                count / previous if previous else 0.0, mean, median))
    return tuple(steps)


def _number(values: Sequence[float], index: int) -> float | None:
    if index >= len(values) or values[index] != values[index]:  # NaN: nobody had that step
        return None
    return float(values[index])


_PERSONS_SQL = """
SELECT {person_id} AS id
FROM ({per_person})
WHERE bucket_kind = {kind:UInt8} AND bucket_value IS NOT DISTINCT FROM {value:Nullable(String)}
  AND if({dropped:Bool}, reached = {step:UInt8}, reached >= {step:UInt8})
ORDER BY id
LIMIT {limit:UInt32} OFFSET {offset:UInt64}
"""


def funnel_persons(
    client: Client, query: FunnelQuery, step: int, *, dropped: bool = False,
    breakdown_value: str | None = None, everyone: bool = True, limit: int = 100, offset: int = 0,
) -> FunnelPersons:
    """The ids of persons who reached `step` (numbered from 1), or with `dropped` who reached it and
    no further; `everyone=False` restricts to the breakdown `breakdown_value` (`OTHER` for the rest)."""
    if not 1 <= step <= len(query.steps):
        raise EngineInputError("step", f"must be between 1 and {len(query.steps)}")
    if not 1 <= limit <= MAX_PAGE:
        raise EngineInputError("limit", f"must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise EngineInputError("offset", "must not be negative")
    sql = _FunnelSql(query)
    kind = _ALL if everyone else (_OTHER if breakdown_value == OTHER else _VALUE)
    text = (_PERSONS_SQL.replace("{per_person}", sql.per_person())
            .replace("{person_id}", person_id("distinct_id")))
    parameters = {**sql.parameters, "kind": kind, "value": None if kind != _VALUE else breakdown_value,
                  "dropped": dropped, "step": step, "limit": limit + 1, "offset": offset}
    ids = [row[0] for row in client.query(text, parameters=parameters).result_rows]
    return FunnelPersons(tuple(ids[:limit]), len(ids) > limit)
