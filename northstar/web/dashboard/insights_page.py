"""The dashboard's Insights page: a trends query form whose fields are the URL (so a view can be
shared), the line chart and the numbers table; and the saved insights listed on the home page.

The form's values are read into a `TrendsQuery` (validated by `insights.trends`, errors shown
in the page), and the form is rendered back from that query, so a saved insight opens in the
same form. Event and property pickers come from the event catalog.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlencode

import msgspec

from insights.catalog import CatalogEvent, CatalogProperty
from insights.query import OPERATORS, Breakdown, InsightError, PropertyFilter
from insights.report import format_value
from insights.saved import SavedInsight
from insights.trends import MATHS, PROPERTY_MATHS, Series, TrendsQuery, TrendsResult, parse_trends_query
from northstar.web.dashboard.charts import trend_chart
from northstar.web.dashboard.html import Html, html, join

__all__ = ["insights_body", "query_from_form", "query_link", "saved_insights_section", "SERIES_ROWS"]

SERIES_ROWS = 3
_INTERVALS = ("hour", "day", "week", "month")
_ZONES = ("UTC", "Europe/Berlin", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Kolkata",
          "Asia/Tokyo", "Australia/Sydney")


def _one(form: Mapping[str, Sequence[str]], name: str, default: str = "") -> str:
    values = form.get(name) or [default]
    return values[0].strip()


def query_from_form(form: Mapping[str, Sequence[str]], default_event: str, today: dt.date) -> TrendsQuery:
    """The trends query of the page's URL fields (`event`, `math`, `property` per series row, ...);
    raises InsightError naming the field."""
    events, maths, properties = (list(form.get(name, [])) for name in ("event", "math", "property"))
    series = []
    for index in range(max(len(events), 1)):
        event = (events[index] if index < len(events) else default_event).strip()
        if not event and index > 0:
            continue
        math = maths[index] if index < len(maths) and maths[index] else "total"
        prop = properties[index].strip() if index < len(properties) and math in PROPERTY_MATHS else ""
        series.append({"event": event, "math": math, **({"property": prop} if prop else {})})
    document: dict[str, object] = {
        "series": series, "interval": _one(form, "interval", "day"), "timezone": _one(form, "timezone", "UTC"),
        "date_to": _one(form, "date_to", today.isoformat()),
        "date_from": _one(form, "date_from", (today - dt.timedelta(days=13)).isoformat()),
    }
    if _one(form, "breakdown"):
        document["breakdown"] = {"property": _one(form, "breakdown"), "type": _one(form, "breakdown_type", "event")}
    if _one(form, "filter_property"):
        document["filters"] = [_filter(form)]
    return parse_trends_query(msgspec.json.encode(document))


def _filter(form: Mapping[str, Sequence[str]]) -> dict[str, object]:
    operator, text = _one(form, "filter_operator", "equals"), _one(form, "filter_value")
    value: object = text
    if operator in ("in", "not_in"):
        value = [part.strip() for part in text.split(",") if part.strip()]
    elif operator in ("gt", "gte", "lt", "lte"):
        try:
            value = float(text)
        except ValueError:
            raise InsightError("filters[0].value", f"{operator} compares numbers: give a number") from None
    elif operator in ("is_set", "is_not_set"):
        value = None
    condition: dict[str, object] = {"property": _one(form, "filter_property"), "operator": operator,
                 "type": _one(form, "filter_type", "event")}
    return condition if value is None else {**condition, "value": value}


def query_link(query: TrendsQuery) -> str:
    """The Insights page URL of `query` (its form fields)."""
    fields: list[tuple[str, str]] = []
    for series in query.series:
        fields += [("event", series.event), ("math", series.math), ("property", series.property_name or "")]
    fields += [("date_from", query.date_from.isoformat()), ("date_to", query.date_to.isoformat()),
               ("interval", query.interval), ("timezone", query.timezone)]
    if query.breakdown is not None:
        fields += [("breakdown", query.breakdown.property_name), ("breakdown_type", query.breakdown.type)]
    if query.filters:
        condition = query.filters[0]
        value = condition.value
        fields += [("filter_property", condition.property_name), ("filter_operator", condition.operator),
                   ("filter_type", condition.type),
                   ("filter_value", ", ".join(condition.values) if isinstance(value, list) else " ".join(condition.values))]
    return "/dashboard/insights?" + urlencode(fields)


def _options(values: Sequence[str], selected: str, labels: Mapping[str, str] | None = None) -> Html:
    return join(html("<option value='{value}'{selected}>{label}</option>", value=value,
                     selected=Html(" selected") if value == selected else "", label=(labels or {}).get(value, value))
                for value in values)


def _form(query: TrendsQuery, events: Sequence[CatalogEvent], properties: Sequence[CatalogProperty],
          person_properties: Sequence[CatalogProperty]) -> Html:
    names = [event.name for event in events]
    property_names = [""] + [p.name for p in properties]
    rows = []
    for index in range(SERIES_ROWS):
        series = query.series[index] if index < len(query.series) else Series("", "total")
        event_names = ([] if index == 0 else [""]) + sorted({*names, *([series.event] if series.event else [])})
        rows.append(html(
            "<fieldset class='series'><label>Series {number} event<select name='event'>{events}</select></label>"
            "<label>Math<select name='math'>{maths}</select></label>"
            "<label>Property (sum, avg, …)<select name='property'>{properties}</select></label></fieldset>",
            number=index + 1, events=_options(event_names, series.event, {"": "(none)"}),
            maths=_options(MATHS, series.math),
            properties=_options(sorted({*property_names, series.property_name or ""}), series.property_name or "",
                                {"": "(none)"})))
    breakdown = query.breakdown or Breakdown("")
    condition = query.filters[0] if query.filters else PropertyFilter("")
    value = ", ".join(condition.values)
    all_properties = sorted({*property_names, *(p.name for p in person_properties)})
    return html(
        "<form class='query card' id='query' method='get' action='/dashboard/insights'>{rows}"
        "<label>From<input type='date' name='date_from' value='{date_from}'></label>"
        "<label>To<input type='date' name='date_to' value='{date_to}'></label>"
        "<label>Interval<select name='interval'>{intervals}</select></label>"
        "<label>Time zone<select name='timezone'>{zones}</select></label>"
        "<label>Breakdown<select name='breakdown'>{breakdowns}</select></label>"
        "<label>of<select name='breakdown_type'>{breakdown_types}</select></label>"
        "<label>Filter property<select name='filter_property'>{filter_properties}</select></label>"
        "<label>of<select name='filter_type'>{filter_types}</select></label>"
        "<label>Operator<select name='filter_operator'>{operators}</select></label>"
        "<label>Value<input name='filter_value' value='{value}'></label>"
        "<button type='submit'>Show</button></form>",
        rows=join(rows), date_from=query.date_from.isoformat(), date_to=query.date_to.isoformat(),
        intervals=_options(_INTERVALS, query.interval),
        zones=_options(sorted({*_ZONES, query.timezone}), query.timezone),
        breakdowns=_options(sorted({*all_properties, breakdown.property_name}), breakdown.property_name, {"": "(none)"}),
        breakdown_types=_options(("event", "person"), breakdown.type),
        filter_properties=_options(sorted({*all_properties, condition.property_name}), condition.property_name,
                                   {"": "(none)"}),
        filter_types=_options(("event", "person"), condition.type),
        operators=_options(OPERATORS, condition.operator), value=value)


def _table(result: TrendsResult) -> Html:
    if not result.series:
        return Html("<p class='sub' id='no-data'>No events match the query.</p>")
    header = join(html("<th class='num'>{label} ({math})</th>", label=s.label, math=s.math) for s in result.series)
    rows = join(
        html("<tr data-date='{date}'><td>{date}</td>{cells}</tr>", date=date,
             cells=join(html("<td class='num'>{value}</td>", value=format_value(s.values[index])) for s in result.series))
        for index, date in enumerate(result.series[0].dates))
    return html("<table id='trend-table'><thead><tr><th>Interval</th>{header}</tr></thead><tbody>{rows}</tbody></table>",
                header=header, rows=rows)


def insights_body(query: TrendsQuery, result: TrendsResult | None, error: str, events: Sequence[CatalogEvent],
                  properties: Sequence[CatalogProperty], person_properties: Sequence[CatalogProperty],
                  title: str = "Insights") -> Html:
    """The Insights page's body: form, then the chart and its numbers (or the error naming the field)."""
    answer = (html("<p class='error' id='query-error' role='alert'>{error}</p>", error=error) if error else
              html("<section class='card' id='trend'>{chart}</section><section class='card'>{table}</section>",
                   chart=trend_chart(result), table=_table(result)) if result is not None else Html(""))
    return html("<h1>{title}</h1><p class='sub'>Trends over the events the collector stored · "
                "<a href='{link}' id='share'>link to this view</a></p>{form}{answer}",
                title=title, link=query_link(query), form=_form(query, events, properties, person_properties),
                answer=answer)


def saved_insights_section(saved: Sequence[SavedInsight]) -> Html:
    """The home page's list of saved insights, each opening the Insights page on its query."""
    rows = join(html("<tr><td><a href='/dashboard/insights?saved={key}'>{label}</a></td><td>{events}</td>"
                     "<td>{description}</td></tr>", key=quote(one.key, safe=""), label=one.label,
                     events=", ".join(f"{s.event} ({s.math})" for s in one.query.series), description=one.description)
                for one in saved)
    return html("<h2>Saved insights</h2><section class='card'><table id='saved-insights'><thead><tr><th>Insight</th>"
                "<th>Series</th><th>Description</th></tr></thead><tbody>{rows}</tbody></table>{empty}</section>",
                rows=rows, empty=Html("<p class='sub'>None yet: PUT /v1/insights/saved/{key}.</p>") if not saved else "")
