"""Cohorts (segments): persons who match rules, or a static list of uploaded ids, computed in ClickHouse.

A dynamic cohort combines rules with `all` (every rule) or `any` (at least one):
- `{"type": "person", "property", "operator", "value"}`: the person's latest property, with the
  shared filter operators (`insights.query`);
- `{"type": "behavior", "event", "filters", "operator": "at_least|at_most|exactly", "count",
  "within_days", "negate"}`: the person did `event` (matching `filters`, event properties) at
  least / at most / exactly `count` times in the `within_days` days before the moment the
  cohort is evaluated; `negate` turns it into "did not";
- `{"type": "cohort", "key", "negate"}`: (not) a member of another cohort (no cycles).
Members of a dynamic cohort are persons with at least one event before that moment.
A static cohort (`static_ids`, e.g. from an uploaded CSV) is the persons of those distinct ids.

Membership is evaluated when asked (never stale): `Cohorts.members_sql` is the
`insights.scan.CohortMembers` every analysis's cohort filters and breakdowns use. Size over
time evaluates the rules as of the end of each day (person properties as they are now).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from typing import Literal

import msgspec

from collector.documents import check_key, decode_document
from collector.persons.resolution import PERSON_PROPERTIES, person_id, person_key
from collector.storage.clickhouse import Client
from collector.storage.documents import DefinitionStore
from insights.query import FilterOperator, FilterValue, InsightError, PropertyFilter, validate_filters, zone
from insights.scan import time_param
from insights.sql import Parameters, Rows, filter_condition

__all__ = [
    "PersonRule", "BehaviorRule", "CohortRule", "Rule", "Cohort", "CohortSize", "CohortDetail", "CohortMembersPage",
    "UnknownCohort", "Cohorts", "parse_cohort", "static_ids_from_csv", "MAX_STATIC_IDS",
]

MAX_RULES = 20
MAX_STATIC_IDS = 100_000
MAX_DEPTH = 5
"""How deep cohorts may refer to cohorts."""
MAX_HISTORY_DAYS = 90


class PersonRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, tag="person",
                 tag_field="type"):
    """The person's latest `property` satisfies `operator` with `value`."""

    property_name: str = msgspec.field(name="property")
    operator: FilterOperator = "equals"
    value: FilterValue = None

    def as_filter(self) -> PropertyFilter:
        """The shared filter this rule is."""
        return PropertyFilter(self.property_name, self.operator, self.value, "person")


class BehaviorRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, tag="behavior",
                   tag_field="type"):
    """Did `event` (with `filters`) `operator` `count` times in the last `within_days` days (`negate`: did not)."""

    event: str
    filters: list[PropertyFilter] = []
    operator: Literal["at_least", "at_most", "exactly"] = "at_least"
    count: int = 1
    within_days: int = 30
    negate: bool = False


class CohortRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True, tag="cohort",
                 tag_field="type"):
    """Is (`negate`: is not) a member of cohort `key`."""

    key: str
    negate: bool = False


Rule = PersonRule | BehaviorRule | CohortRule


class Cohort(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Body of `PUT /v1/cohorts/{key}`: rules combined by `match`, or `static_ids` (a static cohort)."""

    key: str
    name: str = ""
    description: str = ""
    match: Literal["all", "any"] = "all"
    rules: list[Rule] = []
    static_ids: list[str] = []

    @property
    def label(self) -> str:
        """The name people see: `name`, else the key."""
        return self.name or self.key

    @property
    def is_static(self) -> bool:
        """A list of ids rather than rules."""
        return bool(self.static_ids)


class CohortSize(msgspec.Struct, frozen=True):
    """The cohort's size as of the end of `date` (its zone's day)."""

    date: str
    persons: int


class CohortDetail(msgspec.Struct, frozen=True):
    """`GET /v1/cohorts/{key}`: the definition, its size now and at the end of each recent day."""

    cohort: Cohort
    persons: int
    sizes: list[CohortSize]


class CohortMembersPage(msgspec.Struct, frozen=True):
    """One page of members' person ids (ordered), and where the next page starts (None: the last page)."""

    key: str
    total: int
    offset: int
    persons: list[str]
    next_offset: int | None


class UnknownCohort(KeyError):
    """No cohort has this key."""


def parse_cohort(document: bytes | str) -> Cohort:
    """Decode and validate a cohort; raises InsightError naming the field (`rules[1].count`)."""
    cohort = decode_document(document, Cohort, InsightError, "cohort")
    check_key(cohort.key, "key", InsightError)
    if len(cohort.name) > 200 or len(cohort.description) > 2000:
        raise InsightError("name", "a name of at most 200 characters, a description of at most 2000")
    if bool(cohort.rules) == bool(cohort.static_ids):
        raise InsightError("rules", "give rules (a dynamic cohort) or static_ids (a static cohort), not both")
    if len(cohort.rules) > MAX_RULES:
        raise InsightError("rules", f"at most {MAX_RULES} rules")
    if len(cohort.static_ids) > MAX_STATIC_IDS:
        raise InsightError("static_ids", f"at most {MAX_STATIC_IDS:,} ids")
    for index, one in enumerate(cohort.static_ids):
        if not 0 < len(one) <= 512:
            raise InsightError(f"static_ids[{index}]", "an id of 1 to 512 characters")
    for index, rule in enumerate(cohort.rules):
        _validate_rule(rule, f"rules[{index}]", cohort.key)
    return cohort


def _validate_rule(rule: Rule, field: str, own_key: str) -> None:
    if isinstance(rule, PersonRule):
        validate_filters([rule.as_filter()], field)
    elif isinstance(rule, BehaviorRule):
        if not 0 < len(rule.event) <= 200:
            raise InsightError(f"{field}.event", "name the event (at most 200 characters)")
        if not 0 <= rule.count <= 1_000_000:
            raise InsightError(f"{field}.count", "0 to 1,000,000")
        if not 0 < rule.within_days <= 731:
            raise InsightError(f"{field}.within_days", "1 to 731 days")
        validate_filters(rule.filters, f"{field}.filters")
        if any(f.type != "event" for f in rule.filters):
            raise InsightError(f"{field}.filters", "behaviour filters are on event properties")
    else:
        check_key(rule.key, f"{field}.key", InsightError)
        if rule.key == own_key:
            raise InsightError(f"{field}.key", "a cohort cannot contain itself")


def static_ids_from_csv(text: str) -> list[str]:
    """The ids of an uploaded CSV: the first column of each row, a header `id`/`distinct_id`/... skipped,
    blanks and repeats dropped (in order)."""
    found: dict[str, None] = {}
    for index, row in enumerate(csv.reader(io.StringIO(text))):
        value = row[0].strip() if row else ""
        if index == 0 and value.lower() in ("id", "distinct_id", "user_id", "person_id"):
            continue
        if value:
            found[value] = None
    return list(found)


class Cohorts:
    """Cohort definitions (versioned documents, kind `cohort`) and their members in ClickHouse."""

    def __init__(self, connect: Callable[[], Client], rows: Rows) -> None:
        self._definitions = DefinitionStore(connect, kind="cohort")
        self._rows = rows

    def save(self, cohort: Cohort) -> int:
        """Store a validated cohort as the next version of its key (its cohort rules must resolve, acyclic)."""
        self._members(cohort, Parameters(), None, (cohort.key,))  # refuses unknown or cyclic references
        return self._definitions.save(cohort.key, msgspec.json.encode(cohort).decode()).version

    def get(self, key: str) -> Cohort:
        """The latest version of `key`; raises UnknownCohort."""
        stored = self._definitions.latest(key)
        if stored is None:
            raise UnknownCohort(key)
        return parse_cohort(stored.definition)

    def list(self) -> list[Cohort]:
        """Every cohort's latest version, by key."""
        return [parse_cohort(stored.definition) for stored in self._definitions.all_latest()]

    def members_sql(self, key: str, param: Parameters, as_of: dt.datetime | None = None) -> str:
        """A subquery of the member person keys of cohort `key` as of `as_of` (None: now); raises UnknownCohort."""
        return self._members(self.get(key), param, as_of, (key,))

    def size(self, key: str, as_of: dt.datetime | None = None) -> int:
        """How many persons are members as of `as_of` (None: now)."""
        param = Parameters()
        return int(self._rows(f"SELECT count() FROM ({self.members_sql(key, param, as_of)})", param.values)[0][0])

    def detail(self, key: str, days: int = 14, timezone: str = "UTC") -> CohortDetail:
        """The cohort, its size now and as of the end of each of the last `days` local days (today included)."""
        if not 0 <= days <= MAX_HISTORY_DAYS:
            raise InsightError("days", f"0 to {MAX_HISTORY_DAYS}")
        tz = zone(timezone)
        cohort = self.get(key)
        today = dt.datetime.now(tz).date()
        sizes = []
        for back in range(days - 1, -1, -1):
            day = today - dt.timedelta(days=back)
            end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tz)
            sizes.append(CohortSize(day.isoformat(), self.size(key, min(end, dt.datetime.now(tz)))))
        return CohortDetail(cohort, self.size(key), sizes)

    def members(self, key: str, offset: int = 0, limit: int = 100) -> CohortMembersPage:
        """One page of the members' public person ids, in id order."""
        if not 0 < limit <= 10_000:
            raise InsightError("limit", "1 to 10,000")
        if offset < 0:
            raise InsightError("offset", "0 or more")
        cohort = self.get(key)
        param = Parameters()
        if cohort.is_static:
            ids = f"SELECT DISTINCT {person_id('id')} AS pid FROM (SELECT arrayJoin({param(cohort.static_ids, 'Array(String)')}) AS id)"
        else:
            members = self.members_sql(key, param)
            ids = (f"SELECT DISTINCT {person_id()} AS pid FROM events WHERE {person_key()} IN ({members})"
                   " AND type IN ('track', 'page', 'screen', 'identify')")
        sql = (f"SELECT pid, count() OVER () AS total FROM ({ids}) ORDER BY pid"
               f" LIMIT {param(limit, 'UInt32')} OFFSET {param(offset, 'UInt64')}")
        found = self._rows(sql, param.values)
        total = int(found[0][1]) if found else self.size(key) if offset == 0 else 0
        persons = [str(row[0]) for row in found]
        following = offset + len(persons)
        return CohortMembersPage(key, total, offset, persons, following if persons and following < total else None)

    def _members(self, cohort: Cohort, param: Parameters, as_of: dt.datetime | None, path: tuple[str, ...]) -> str:
        if len(path) > MAX_DEPTH:
            raise InsightError("rules", f"cohorts refer to cohorts more than {MAX_DEPTH} deep: {' -> '.join(path)}")
        if cohort.is_static:
            ids = param(cohort.static_ids, "Array(String)")
            return f"SELECT DISTINCT {person_key('id')} FROM (SELECT arrayJoin({ids}) AS id)"
        moment = time_param(param, as_of or dt.datetime.now(dt.timezone.utc))
        counts, conditions = [], []
        needs_properties = False
        for index, rule in enumerate(cohort.rules):
            if isinstance(rule, PersonRule):
                needs_properties = True
                conditions.append(filter_condition(rule.as_filter(), "person_properties", param))
            elif isinstance(rule, BehaviorRule):
                since = f"{moment} - toIntervalDay({param(rule.within_days, 'UInt32')})"
                event = " AND ".join([f"type = 'track' AND event = {param(rule.event, 'String')}",
                                      f"timestamp >= {since}",
                                      *(filter_condition(f, "properties", param) for f in rule.filters)])
                counts.append(f"countIf({event}) AS b{index}")
                comparison = {"at_least": ">=", "at_most": "<=", "exactly": "="}[rule.operator]
                condition = f"b{index} {comparison} {param(rule.count, 'UInt64')}"
                conditions.append(f"NOT ({condition})" if rule.negate else condition)
            else:
                if rule.key in path:
                    raise InsightError("rules", f"cohorts refer to each other in a cycle: {' -> '.join((*path, rule.key))}")
                try:
                    other = self.get(rule.key)
                except UnknownCohort:
                    raise InsightError("rules", f"no cohort {rule.key!r}") from None
                inside = f"person IN ({self._members(other, param, as_of, (*path, rule.key))})"
                conditions.append(f"NOT {inside}" if rule.negate else inside)
        joiner = " AND " if cohort.match == "all" else " OR "
        scope = "type IN ('track', 'page', 'screen', 'identify')"
        positive = [isinstance(r, BehaviorRule) and not r.negate and r.operator != "at_most" and r.count >= 1
                    for r in cohort.rules]
        if any(positive) if cohort.match == "all" else all(positive):  # members did one of these events: read only them
            events = sorted({r.event for r in cohort.rules if isinstance(r, BehaviorRule)})
            scope = f"type = 'track' AND event IN {param(events, 'Array(String)')}"
        per_person = (f"SELECT {person_key()} AS person{''.join(', ' + c for c in counts)} FROM events FINAL"
                      f" WHERE timestamp < {moment} AND {scope} GROUP BY person")
        if needs_properties:
            per_person = (f"SELECT p.*, ifNull(pp.properties, '') AS person_properties FROM ({per_person}) AS p"
                          f" LEFT JOIN {PERSON_PROPERTIES} AS pp ON pp.person_key = p.person")
        return f"SELECT person FROM ({per_person}) WHERE {joiner.join(f'({c})' for c in conditions)}"
