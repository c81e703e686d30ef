"""Per-variant, per-day sufficient statistics of an experiment's metrics, computed in ClickHouse.

One query per experiment: each unit is attributed to the variant of its first exposure in
the current phase (exposures before `exposed_since` belong to an earlier assignment),
its metric values are aggregated from the events after that exposure (and, for CUPED,
in a look-back window before it), and ClickHouse returns one row of sums per (variant,
exposure day). Python never loads per-event or per-unit rows. The unit is the definition's:
a person (`collector.persons.resolution.person_key`: every id of one person is one unit), an
anonymous id, or a group (exposures name it; its members' events count). Units are grouped by a 64-bit
hash of their id, which groups faster than strings (a collision among a billion units has a
probability of about 3%; among ten million, 3e-6). Every value, including
event and property names, travels as a query parameter; the SQL text is built only from
validated, closed sets (metric kinds, cap kinds).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

import msgspec

from collector.persons.resolution import DISTINCT_ID, person_key
from collector.storage.clickhouse import Client
from experiments.metrics import Measure, MetricDefinition
from insights.sql import Parameters, filter_condition
from sdk.wire import EXPOSURE_EVENT

__all__ = ["MetricSums", "DailySums", "ExperimentSums", "MetricQuery", "experiment_sums", "build_query"]


@dataclass(frozen=True)
class MetricSums:
    """Sums over units of one metric's per-unit value and the products the tests need.

    `covariate` is the same metric before exposure (zero unless CUPED is on);
    `denominator` is a ratio metric's denominator (zero for other kinds).
    """

    units: int = 0
    value: float = 0.0
    value_squares: float = 0.0
    covariate: float = 0.0
    covariate_squares: float = 0.0
    value_covariate: float = 0.0
    denominator: float = 0.0
    denominator_squares: float = 0.0
    value_denominator: float = 0.0

    def __add__(self, other: MetricSums) -> MetricSums:
        return MetricSums(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


_SUMS_PER_METRIC = len(fields(MetricSums)) - 1


@dataclass(frozen=True)
class DailySums:
    """Units first exposed to `variant` on `day` (UTC) and their sums, one per metric."""

    variant: str
    day: dt.date
    metrics: tuple[MetricSums, ...]

    @property
    def units(self) -> int:
        """Units first exposed that day in that variant."""
        return self.metrics[0].units if self.metrics else 0


@dataclass(frozen=True)
class ExperimentSums:
    """Rows for the experiment's variants; units seen in several variants only counted."""

    days: tuple[DailySums, ...]
    multiple_exposures: int


@dataclass(frozen=True)
class MetricQuery:
    """A metric as the query needs it: the resolved window and whether to fetch a covariate."""

    metric: MetricDefinition
    window_hours: float
    with_covariate: bool


_BEGINNING = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
"""`exposed_since` of an experiment with no phase start: every exposure counts."""


_TEMPLATE = """
WITH
units AS (
    SELECT unit_id,
           minIf(timestamp, is_exposure) AS first_exposure,
           argMinIf(variation_id, timestamp, is_exposure) AS variation,
           uniqExactIf(variation_id, is_exposure) AS variations_seen,
           groupArrayIf((timestamp, {measure_names}), NOT is_exposure) AS facts
    FROM ({unit_rows})
    GROUP BY unit_id
    HAVING variations_seen > 0
),
"""

# The unit of each exposure and metric event, by the experiment's `unit`: the person
# (`collector.persons`) for user_id; the anonymous id; or, for a group type, the exposure's
# `group_id` property and, for metric events, each group the event's person joined through a
# `group` message (so a group converts when any of its members does).
_PERSON_ROWS = """
        SELECT {unit_key} AS unit_id, timestamp, variation_id,
               {is_exposure} AS is_exposure,
               {measure_columns}
        FROM events FINAL
        WHERE (is_exposure OR event IN {events}){unit_filter}
"""
_GROUP_ROWS = """
        SELECT cityHash64(JSONExtractString(properties, 'group_id')) AS unit_id, timestamp, variation_id,
               {is_exposure} AS is_exposure,
               {measure_columns}
        FROM events FINAL
        WHERE is_exposure AND JSONExtractString(properties, 'group_id') != ''
        UNION ALL
        SELECT groups.group_key AS unit_id, timestamp, variation_id, false AS is_exposure, {measure_columns}
        FROM (SELECT {person_key} AS member_key, timestamp, variation_id, event, properties
              FROM events FINAL WHERE event IN {events}) AS member_events
        INNER JOIN (SELECT DISTINCT {link_person_key} AS member_key, cityHash64(other_id) AS group_key
                    FROM identity_links FINAL WHERE kind = 'group') AS groups
        USING member_key
"""

_SUMS_TEMPLATE = """
per_unit AS (
    SELECT if(variations_seen = 1, variation, '') AS variant,
           toDate(first_exposure) AS day,
           {per_unit_columns}
    FROM units
),
capped AS (
    SELECT variant, day, {capped_columns}
    FROM per_unit
)
SELECT variant, day, count() AS units, {sum_columns}
FROM capped
GROUP BY variant, day
ORDER BY variant, day
"""


def build_query(
    experiment_id: str, metrics: list[MetricQuery], lookback_hours: float, exposed_since: dt.datetime | None = None,
    unit: str = "user_id", identity: bool = True,
) -> tuple[str, dict[str, Any]]:
    """The SQL text and its parameters for one experiment's metrics; exposures before
    `exposed_since` (None: none are) are ignored. `unit` is the definition's: "user_id"
    counts persons, "anonymous_id" anonymous ids, anything else groups of that type.
    `identity=False` counts each distinct id as its own unit (what analyses did before
    persons; the benchmark's baseline)."""
    param = Parameters()
    measures = _Measures(param)
    per_unit, capped, sums = [], [], []
    events = sorted({m.metric.event for m in metrics} | {
        m.metric.denominator.event for m in metrics if m.metric.denominator is not None
    })
    for index, query in enumerate(metrics):
        metric = query.metric
        window = _within(param(int(query.window_hours * 3600), "UInt32"))
        value, covariate, denominator = f"v{index}", f"x{index}", f"d{index}"
        numerator = measures.fact(metric.numerator)
        per_unit.append(f"{_aggregate(metric.kind, numerator, window)} AS {value}")
        if query.with_covariate:
            before = _before(param(int(lookback_hours * 3600), "UInt32"))
            per_unit.append(f"{_aggregate(metric.kind, numerator, before)} AS {covariate}")
        else:
            per_unit.append(f"0.0 AS {covariate}")
        if metric.denominator is not None:
            per_unit.append(f"{_aggregate('ratio', measures.fact(metric.denominator), window)} AS {denominator}")
        else:
            per_unit.append(f"0.0 AS {denominator}")
        capped += [f"{_capped(metric, value, param)} AS c{value}",
                   f"{_capped(metric, covariate, param)} AS c{covariate}", f"{denominator} AS c{denominator}"]
        value, covariate, denominator = f"c{value}", f"c{covariate}", f"c{denominator}"
        sums += [
            f"sum({value})", f"sum({value} * {value})",
            f"sum({covariate})", f"sum({covariate} * {covariate})", f"sum({value} * {covariate})",
            f"sum({denominator})", f"sum({denominator} * {denominator})", f"sum({value} * {denominator})",
        ]
    since = param(exposed_since or _BEGINNING, "DateTime64(3, 'UTC')")
    is_exposure = (f"event = {param(EXPOSURE_EVENT, 'String')} AND experiment_id = {param(experiment_id, 'String')}"
                   f" AND timestamp >= {since}")
    rows = {
        "is_exposure": is_exposure, "events": param(events, "Array(String)"),
        "measure_columns": ",\n               ".join(measures.columns),
    }
    if unit == "user_id":
        unit_key = person_key() if identity else f"cityHash64({DISTINCT_ID})"
        unit_rows = _PERSON_ROWS.format(unit_key=unit_key, unit_filter="", **rows)
    elif unit == "anonymous_id":
        unit_rows = _PERSON_ROWS.format(unit_key="cityHash64(anonymous_id)", unit_filter=" AND anonymous_id != ''",
                                        **rows)
    else:
        unit_rows = _GROUP_ROWS.format(person_key=person_key(), link_person_key=person_key("user_id"), **rows)
    sql = (_TEMPLATE + _SUMS_TEMPLATE).format(
        unit_rows=unit_rows,
        measure_names=", ".join(measures.names),
        per_unit_columns=",\n           ".join(per_unit),
        capped_columns=", ".join(capped),
        sum_columns=", ".join(sums),
    )
    return sql, param.values


def experiment_sums(
    client: Client,
    experiment_id: str,
    metrics: list[MetricQuery],
    lookback_hours: float,
    exposed_since: dt.datetime | None = None,
    unit: str = "user_id",
) -> ExperimentSums:
    """Run the query; rows of variants outside the definition are left to the caller.

    `exposed_since` (the current phase's start) is compared at the stored millisecond
    precision, rounded down, so an exposure logged at that instant counts.
    """
    sql, parameters = build_query(experiment_id, metrics, lookback_hours, exposed_since, unit)
    rows = client.query(sql, parameters=parameters).result_rows
    days, multiple = [], 0
    for variant, day, units, *values in rows:
        if variant == "":
            multiple += units
            continue
        metric_sums = tuple(
            MetricSums(units, *map(float, values[start:start + _SUMS_PER_METRIC]))
            for start in range(0, len(values), _SUMS_PER_METRIC)
        )
        days.append(DailySums(variant, day, metric_sums))
    return ExperimentSums(tuple(days), multiple)


def _within(seconds: str) -> str:
    return f"fact.1 >= first_exposure AND fact.1 < first_exposure + toIntervalSecond({seconds})"


def _before(seconds: str) -> str:
    return f"fact.1 < first_exposure AND fact.1 >= first_exposure - toIntervalSecond({seconds})"


class _Measures:
    """Each distinct measure becomes two per-event columns kept in the unit's `facts` tuples:
    `m{i}` (does the event match) and `m{i}_value` (its property, or 1 to count it), so an
    event's JSON is parsed at most once per measure and only when the event matches."""

    def __init__(self, param: Parameters) -> None:
        self._param = param
        self._indexes: dict[bytes, int] = {}
        self.columns: list[str] = []
        self.names: list[str] = []

    def fact(self, measure: Measure) -> tuple[int, int]:
        """Positions (1-based, after the timestamp) of the measure's match flag and value."""
        identity = msgspec.json.encode(measure)
        if identity not in self._indexes:
            index = self._indexes[identity] = len(self._indexes)
            param = self._param
            matches = " AND ".join([f"event = {param(measure.event, 'String')}",
                                    *(filter_condition(f, "properties", param) for f in measure.filters)])
            value = ("1.0" if measure.property_name is None else
                     f"if(m{index}, JSONExtractFloat(properties, {param(measure.property_name, 'String')}), 0.0)")
            self.columns += [f"{matches} AS m{index}", f"{value} AS m{index}_value"]
            self.names += [f"m{index}", f"m{index}_value"]
        index = self._indexes[identity]
        return (2 + 2 * index, 3 + 2 * index)


def _aggregate(kind: str, fact: tuple[int, int], period: str) -> str:
    """Per-unit value of a measure over the unit's events in `period`, as Float64."""
    matches, value = fact
    if kind == "conversion":
        return f"toFloat64(arrayExists(fact -> fact.{matches} AND {period}, facts))"
    return f"arraySum(fact -> if(fact.{matches} AND {period}, fact.{value}, 0.0), facts)"


def _capped(metric: MetricDefinition, column: str, param: Parameters) -> str:
    """Winsorise a per-unit column at an absolute value or at a quantile over all units."""
    if metric.cap is None:
        return column
    limit = param(metric.cap.value, "Float64")
    if metric.cap.kind == "absolute":
        return f"least({column}, {limit})"
    return f"least({column}, quantileExact({limit})({column}) OVER ())"
