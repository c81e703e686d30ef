"""The voice of the customer: survey responses, Net Promoter Score, CSAT/rating averages, verbatims.

A response is a `Survey Responded` track event (`sdk.wire.SURVEY_EVENT`: properties `survey`,
`score`, `answer`, `question`) or PostHog's `survey sent` (`$survey_id`; `$survey_response`
counts as the score when it is a number, else as the answer). Surveys need no definition to
be analysed; `PUT /v1/surveys/{key}` may describe one (question, kind, scale).

`POST /v1/insights/nps` (semantics guaranteed here):
- Only scored responses count; by default each person's *last* scored response in the range
  (`"responses": "all"`: every response). Over time (`interval`): each person's last in each
  interval. By breakdown: the value of the person's last response (cohort breakdown: every
  listed cohort the person belongs to); the top `breakdown_limit` values by responses, the
  rest summed under `"$other"`.
- Promoters score 9-10, passives 7-8, detractors 0-6; NPS = 100 (p_P − p_D) in points, with
  a 95% interval ±1.96·SE, SE² = (p_P + p_D − (p_P − p_D)²) / n (multinomial), clamped to ±100.
- `average` is the mean score with a 95% normal interval ±1.96·s/√n (s the sample deviation;
  no interval for one response): the CSAT / rating figure.
- `answers`: the latest `answers_limit` free-text answers with the person and their score.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Literal

import msgspec

from collector.documents import check_key, decode_document
from collector.persons.resolution import person_id
from collector.storage.clickhouse import Client
from collector.storage.documents import DefinitionStore
from insights.intervals import MAX_INTERVALS, Interval, bucket_label, bucket_sql, interval_labels
from insights.query import (
    Breakdown,
    DateRange,
    InsightError,
    PropertyFilter,
    validate_breakdown,
    validate_date_range,
    validate_filters,
)
from insights.scan import CohortMembers, breakdown_sql, no_cohorts, person_events
from insights.sql import Parameters, Rows, property_number, property_text
from sdk.wire import (
    POSTHOG_SURVEY_EVENT,
    POSTHOG_SURVEY_ID,
    POSTHOG_SURVEY_RESPONSE,
    SURVEY_ANSWER,
    SURVEY_EVENT,
    SURVEY_ID,
    SURVEY_SCORE,
)

__all__ = [
    "Survey", "Surveys", "UnknownSurvey", "parse_survey", "NpsQuery", "NpsSummary", "NpsPoint", "NpsBreakdown",
    "SurveyAnswer", "NpsResult", "parse_nps_query", "nps", "summarize", "OTHER",
]

OTHER = "$other"
Z95 = 1.959963984540054
MAX_ANSWERS = 500


class Survey(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A survey's description: its question, kind (`nps` scores 0-10) and top score (`scale`)."""

    key: str
    question: str = ""
    kind: Literal["nps", "csat", "rating", "text"] = "nps"
    scale: int = 10


class UnknownSurvey(KeyError):
    """No survey is described under this key."""


def parse_survey(document: bytes | str) -> Survey:
    """Decode and validate a survey description; raises InsightError naming the field."""
    survey = decode_document(document, Survey, InsightError, "survey")
    check_key(survey.key, "key", InsightError)
    if len(survey.question) > 1000:
        raise InsightError("question", "at most 1000 characters")
    if survey.kind == "nps" and survey.scale != 10:
        raise InsightError("scale", "an NPS survey scores 0 to 10")
    if not 1 < survey.scale <= 100:
        raise InsightError("scale", "the top score: 2 to 100")
    return survey


class Surveys:
    """Survey descriptions by key (latest version each), stored as versioned documents (kind `survey`)."""

    def __init__(self, connect: Callable[[], Client]) -> None:
        self._definitions = DefinitionStore(connect, kind="survey")

    def save(self, survey: Survey) -> int:
        """Store a validated description as the next version of its key; returns that version."""
        return self._definitions.save(survey.key, msgspec.json.encode(survey).decode()).version

    def get(self, key: str) -> Survey:
        """The latest description of `key`; raises UnknownSurvey."""
        stored = self._definitions.latest(key)
        if stored is None:
            raise UnknownSurvey(key)
        return parse_survey(stored.definition)

    def list(self) -> list[Survey]:
        """Every described survey, by key."""
        return [parse_survey(stored.definition) for stored in self._definitions.all_latest()]


class NpsQuery(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of `POST /v1/insights/nps`: one survey's responses over inclusive local days."""

    survey: str
    date_from: dt.date
    date_to: dt.date
    timezone: str = "UTC"
    interval: Interval | None = None
    filters: list[PropertyFilter] = []
    breakdown: Breakdown | None = None
    breakdown_limit: int = 25
    responses: Literal["last", "all"] = "last"
    answers_limit: int = 20

    @property
    def date_range(self) -> DateRange:
        """The query's days and zone."""
        return DateRange(self.date_from, self.date_to, self.timezone)


class NpsSummary(msgspec.Struct, frozen=True):
    """Counts, NPS in points with its 95% interval, and the mean score with its 95% interval (None: no data)."""

    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    nps_low: float | None
    nps_high: float | None
    nps_margin: float | None
    average: float | None
    average_low: float | None
    average_high: float | None


class NpsPoint(msgspec.Struct, frozen=True):
    """One interval's summary."""

    date: str
    summary: NpsSummary


class NpsBreakdown(msgspec.Struct, frozen=True):
    """One breakdown value's summary (None: the property was missing; `"$other"`: the rest)."""

    value: str | None
    summary: NpsSummary


class SurveyAnswer(msgspec.Struct, frozen=True):
    """A free-text answer, who gave it, and the score given with it (None: no score)."""

    person_id: str
    answer: str
    score: float | None
    timestamp: dt.datetime


class NpsResult(msgspec.Struct, frozen=True):
    """The whole range's summary, per interval (when asked), per breakdown value (when asked), answers."""

    survey: str
    total: NpsSummary
    dates: list[NpsPoint]
    breakdowns: list[NpsBreakdown]
    answers: list[SurveyAnswer]


def parse_nps_query(document: bytes | str) -> NpsQuery:
    """Decode and validate an NPS query; raises InsightError naming the field."""
    query = decode_document(document, NpsQuery, InsightError, "query")
    check_key(query.survey, "survey", InsightError)
    validate_date_range(query.date_range)
    if query.interval is not None:
        points = len(interval_labels(query.interval, query.date_range))
        if points > MAX_INTERVALS:
            raise InsightError("date_to", f"{points} {query.interval} intervals; at most {MAX_INTERVALS}")
    validate_filters(query.filters, "filters")
    validate_breakdown(query.breakdown, query.breakdown_limit)
    if not 0 <= query.answers_limit <= MAX_ANSWERS:
        raise InsightError("answers_limit", f"0 to {MAX_ANSWERS}")
    return query


def summarize(responses: int, promoters: int, passives: int, detractors: int, total: float,
              squares: float) -> NpsSummary:
    """The summary of n scored responses given their class counts, score sum and sum of squares."""
    if responses == 0:
        return NpsSummary(0, 0, 0, 0, None, None, None, None, None, None, None)
    p_promoters, p_detractors = promoters / responses, detractors / responses
    score = 100 * (p_promoters - p_detractors)
    margin = 100 * Z95 * math.sqrt(max(0.0, p_promoters + p_detractors - (p_promoters - p_detractors) ** 2) / responses)
    mean = total / responses
    if responses > 1:
        deviation = math.sqrt(max(0.0, (squares - responses * mean * mean) / (responses - 1)))
        spread: float | None = Z95 * deviation / math.sqrt(responses)
    else:
        spread = None
    return NpsSummary(responses, promoters, passives, detractors, score, max(-100.0, score - margin),
                      min(100.0, score + margin), margin, mean,
                      None if spread is None else mean - spread, None if spread is None else mean + spread)


def _response_condition(query: NpsQuery, param: Parameters) -> str:
    survey = param(query.survey, "String")
    # Survey keys are JSON strings (as the SDK sends them): one JSONExtractString, half the cost of a property's text.
    ours = f"(event = {param(SURVEY_EVENT, 'String')} AND JSONExtractString(properties, {param(SURVEY_ID, 'String')}) = {survey})"
    posthog = (f"(event = {param(POSTHOG_SURVEY_EVENT, 'String')}"
               f" AND JSONExtractString(properties, {param(POSTHOG_SURVEY_ID, 'String')}) = {survey})")
    either = param([SURVEY_EVENT, POSTHOG_SURVEY_EVENT], "Array(String)")
    return f"(event IN {either} AND type = 'track' AND ({ours} OR {posthog}))"  # event first: the primary key


def _score_and_answer(param: Parameters) -> tuple[str, str]:
    """SQL of a response's score (Nullable(Float64)) and free-text answer (String, '' when none)."""
    posthog = f"event = {param(POSTHOG_SURVEY_EVENT, 'String')}"
    response = param(POSTHOG_SURVEY_RESPONSE, "String")
    score = (f"if({posthog}, {property_number('properties', response)},"
             f" {property_number('properties', param(SURVEY_SCORE, 'String'))})")
    answer = (f"if({posthog}, if(isNull({property_number('properties', response)}), {property_text('properties', response)}, ''),"
              f" {property_text('properties', param(SURVEY_ANSWER, 'String'))})")
    return score, answer


_SUMMARY = """
WITH responses AS (
    SELECT person, distinct_id, timestamp, {score} AS score, {answer} AS answer, {group} AS g, {breakdown} AS b
    FROM ({events})
),
chosen AS ({chosen})
SELECT g, value, count() AS n, countIf(s >= 9) AS promoters, countIf(s >= 7 AND s < 9) AS passives,
       countIf(s < 7) AS detractors, sum(s) AS total, sum(s * s) AS squares
FROM (SELECT g, arrayJoin(bs) AS value, s FROM chosen)
GROUP BY g, value
"""

_LAST = """
    SELECT person, g, argMax(score, timestamp) AS s, {last_b} AS bs
    FROM responses WHERE score IS NOT NULL GROUP BY person, g
"""

_ANSWERS = """
SELECT {person_id} AS person_id, {answer} AS answer, {score} AS score, timestamp
FROM ({events})
WHERE answer != ''
ORDER BY timestamp DESC, person_id
LIMIT {limit}
"""


def _summaries(rows: Rows, query: NpsQuery, cohorts: CohortMembers, *, by_time: bool,
               breakdown: Breakdown | None) -> dict[tuple[str, tuple[int, str]], list[float]]:
    """(group, breakdown value) -> [n, promoters, passives, detractors, score sum, sum of squares]."""
    param = Parameters()
    start, end = query.date_range.bounds()
    score, answer = _score_and_answer(param)
    group = (f"toString({bucket_sql(query.interval, 'timestamp', param(query.timezone, 'String'))})"
             if by_time and query.interval is not None else "''")
    needs_persons = breakdown is not None and breakdown.type == "person"
    sql = _SUMMARY.format(
        score=score, answer=answer, group=group,
        breakdown=breakdown_sql(breakdown, param, cohorts) if breakdown is not None else "[(toUInt8(0), '')]",
        # without a breakdown `b` is a constant: no argMax over arrays per person (measured 0.55 -> 0.2 s, 100k persons)
        events=person_events(param, _response_condition(query, param), start, end, query.filters, cohorts,
                             person_properties=needs_persons),
        chosen=(_LAST.format(last_b="argMax(b, timestamp)" if breakdown is not None else "any(b)")
                if query.responses == "last" else "SELECT person, g, score AS s, b AS bs FROM responses WHERE score IS NOT NULL"),
    )
    return {(g, (int(value[0]), value[1])): [float(n) for n in counts] for g, value, *counts in rows(sql, param.values)}


def _summary(counts: list[float]) -> NpsSummary:
    n, promoters, passives, detractors, total, squares = counts
    return summarize(int(n), int(promoters), int(passives), int(detractors), total, squares)


def nps(rows: Rows, query: NpsQuery, cohorts: CohortMembers = no_cohorts) -> NpsResult:
    """Answer a validated NPS query: the total, per interval and per breakdown value, and the latest answers."""
    empty = [0.0] * 6
    total = _summaries(rows, query, cohorts, by_time=False, breakdown=None).get(("", (0, "")), empty)
    dates = []
    if query.interval is not None:
        by_label = {_label(query, g): counts
                    for (g, _), counts in _summaries(rows, query, cohorts, by_time=True, breakdown=None).items()}
        dates = [NpsPoint(label, _summary(by_label.get(label, empty)))
                 for label in interval_labels(query.interval, query.date_range)]
    breakdowns = []
    if query.breakdown is not None:
        by_value = {value: counts for (_, value), counts in
                    _summaries(rows, query, cohorts, by_time=False, breakdown=query.breakdown).items()}
        ranked = sorted(by_value, key=lambda value: (-by_value[value][0], value))
        for value in ranked[:query.breakdown_limit]:
            breakdowns.append(NpsBreakdown(None if value[0] else value[1], _summary(by_value[value])))
        rest = ranked[query.breakdown_limit:]
        if rest:
            breakdowns.append(NpsBreakdown(OTHER, _summary([sum(by_value[v][i] for v in rest) for i in range(6)])))
    return NpsResult(query.survey, _summary(total), dates, breakdowns, _answers(rows, query, cohorts))


def _label(query: NpsQuery, group: str) -> str:
    assert query.interval is not None
    return bucket_label(int(group) if query.interval == "hour" else dt.date.fromisoformat(group), query.timezone)


def _answers(rows: Rows, query: NpsQuery, cohorts: CohortMembers) -> list[SurveyAnswer]:
    if query.answers_limit == 0:
        return []
    param = Parameters()
    start, end = query.date_range.bounds()
    score, answer = _score_and_answer(param)
    events = person_events(param, _response_condition(query, param), start, end, query.filters, cohorts)
    sql = _ANSWERS.format(person_id=person_id("distinct_id"), answer=answer, score=score,
                          events=events, limit=param(query.answers_limit, "UInt32"))
    return [SurveyAnswer(str(pid), str(text), None if value is None else float(value),
                         at.replace(tzinfo=dt.timezone.utc) if at.tzinfo is None else at)
            for pid, text, value, at in rows(sql, param.values)]
