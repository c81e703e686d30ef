"""The dashboard's Customer health page, and the full insight each of its panels links to.

One page a PM opens on Monday: active persons (DAU/WAU/MAU), lifecycle bars with the churn
rate, NPS over time with its interval and by segment (cohorts), the latest verbatim answers,
the top journeys (a Sankey) and the cohort list with sizes. Every number comes from the same
engines and documents as the API (`insights.lifecycle`, `insights.surveys`, `insights.paths`,
`insights.cohorts`), and the team's targets (`insights.targets`) are drawn as reference lines.
Views are read from the URL (`days`, `interval`, `timezone`, `survey`, `event`), so they can be shared.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from insights.cohorts import CohortDetail, Cohorts
from insights.customer_report import nps_text, percent
from insights.lifecycle import ActivityResult, LifecycleQuery, LifecycleResult, activity, lifecycle
from insights.paths import PathsQuery, PathsResult, paths
from insights.query import Breakdown, InsightError, zone
from insights.sql import Rows
from insights.surveys import NpsQuery, NpsResult, Surveys, nps
from insights.targets import TargetSettings, TargetStore
from northstar.web.dashboard.html import Html, html, join, json_script

__all__ = ["CustomerHealth", "health_data", "health_body", "full_insight_body", "KINDS"]

KINDS = ("actives", "lifecycle", "nps", "paths")
MAX_SEGMENTS = 10


@dataclass(frozen=True)
class CustomerHealth:
    """Everything the page shows, computed once per view."""

    view: dict[str, str]
    activity: ActivityResult
    lifecycle: LifecycleResult
    survey: str | None
    nps_over_time: NpsResult | None
    nps_by_segment: NpsResult | None
    journeys: PathsResult
    cohorts: list[tuple[str, str, int]]
    targets: TargetSettings


def _view(form: Mapping[str, Sequence[str]], surveys: Surveys) -> dict[str, str]:
    """The view's parameters from the URL, defaults filled in (validated by the engines' query types)."""
    def one(name: str, default: str) -> str:
        values = form.get(name) or [default]
        return values[0].strip() or default

    timezone = one("timezone", "UTC")
    today = dt.datetime.now(zone(timezone)).date()
    try:
        days = int(one("days", "30"))
    except ValueError:
        raise InsightError("days", "a whole number of days") from None
    if not 1 <= days <= 366:
        raise InsightError("days", "1 to 366")
    described = surveys.list()
    return {"timezone": timezone, "date_to": today.isoformat(),
            "date_from": (today - dt.timedelta(days=days - 1)).isoformat(), "days": str(days),
            "interval": one("interval", "week"), "event": one("event", ""),
            "survey": one("survey", described[0].key if described else "")}


def _lifecycle_query(view: Mapping[str, str], interval: str | None = None) -> LifecycleQuery:
    return LifecycleQuery(dt.date.fromisoformat(view["date_from"]), dt.date.fromisoformat(view["date_to"]),
                          view["event"] or None, interval or view["interval"], view["timezone"])  # type: ignore[arg-type]


def health_data(rows: Rows, cohorts: Cohorts, surveys: Surveys, targets: TargetStore,
                form: Mapping[str, Sequence[str]]) -> CustomerHealth:
    """Run every panel's analysis for the view the URL describes (InsightError for a bad parameter)."""
    view = _view(form, surveys)
    query = _lifecycle_query(view)
    if query.interval not in ("day", "week", "month"):
        raise InsightError("interval", "day, week or month")
    members = cohorts.members_sql
    defined = cohorts.list()
    survey = view["survey"] or None
    over_time = by_segment = None
    if survey is not None:
        base = NpsQuery(survey, query.date_from, query.date_to, query.timezone, query.interval, answers_limit=10)
        over_time = nps(rows, base, members)
        if defined:
            segments = Breakdown(type="cohort", cohorts=[c.key for c in defined[:MAX_SEGMENTS]])
            by_segment = nps(rows, NpsQuery(survey, query.date_from, query.date_to, query.timezone,
                                            breakdown=segments, answers_limit=0), members)
    journeys = paths(rows, PathsQuery(query.date_from, query.date_to, query.timezone, steps=4, edge_limit=25), members)
    return CustomerHealth(view, activity(rows, query, members), lifecycle(rows, query, members), survey, over_time,
                          by_segment, journeys, [(c.key, c.label, cohorts.size(c.key)) for c in defined], targets.get())


def _chart(element_id: str, label: str, spec: Mapping[str, object]) -> Html:
    return html("<div class='chart' id='{id}' data-chart='{id}-data' role='img' aria-label='{label}'></div>{data}",
                id=element_id, label=label, data=json_script(f"{element_id}-data", spec))


def _lines(settings: TargetSettings, metric: str, scale: float = 1.0) -> list[dict[str, object]]:
    return [{"label": t.caption, "value": t.value * scale} for t in settings.for_metric(metric)]


def _link(kind: str, view: Mapping[str, str], **extra: str) -> str:
    keep = {name: view[name] for name in ("days", "interval", "timezone", "event", "survey") if view.get(name)}
    return f"/dashboard/customer/{kind}?{urlencode({**keep, **extra})}"


def _card(element_id: str, title: str, link: str, body: Html, wide: bool = False) -> Html:
    return html("<section class='card{wide}' id='{id}'><h2>{title} <a class='more' href='{link}'>full insight →</a></h2>"
                "{body}</section>", wide=" wide" if wide else "", id=element_id, title=title, link=link, body=body)


def _actives(health: CustomerHealth, limit_rows: int) -> Html:
    result = health.activity
    figures = html("<p class='figures'><span>DAU <b id='dau-now'>{dau:,}</b></span> <span>WAU <b id='wau-now'>{wau:,}</b>"
                   "</span> <span>MAU <b id='mau-now'>{mau:,}</b></span> <span class='sub'>on {day}</span></p>",
                   dau=result.dau[-1], wau=result.wau[-1], mau=result.mau[-1], day=result.dates[-1])
    chart = _chart("actives-chart", "Active persons per day", {
        "kind": "actives", "dates": result.dates, "targets": _lines(health.targets, "dau"),
        "series": [{"name": "DAU", "values": result.dau}, {"name": "WAU", "values": result.wau},
                   {"name": "MAU", "values": result.mau}]})
    rows = join(html("<tr><td>{d}</td><td class='num'>{a:,}</td><td class='num'>{b:,}</td><td class='num'>{c:,}</td></tr>",
                     d=d, a=a, b=b, c=c)
                for d, a, b, c in list(zip(result.dates, result.dau, result.wau, result.mau))[-limit_rows:])
    table = html("<table id='actives-table'><thead><tr><th>Day</th><th class='num'>DAU</th><th class='num'>WAU</th>"
                 "<th class='num'>MAU</th></tr></thead><tbody>{rows}</tbody></table>", rows=rows)
    return join([figures, chart, table if limit_rows > 1 else Html("")])


def _lifecycle(health: CustomerHealth, limit_rows: int) -> Html:
    points = health.lifecycle.points
    last = points[-1]
    figures = html("<p class='figures'><span>churn <b id='churn-now'>{churn}</b></span> <span>active <b id='active-now'>"
                   "{active:,}</b></span> <span class='sub'>{interval} of {date}</span></p>",
                   churn=percent(last.churn_rate), active=last.active, interval=health.lifecycle.interval, date=last.date)
    chart = _chart("lifecycle-chart", "Lifecycle per interval with churn rate", {
        "kind": "lifecycle", "dates": [p.date for p in points], "new": [p.new for p in points],
        "returning": [p.returning for p in points], "resurrecting": [p.resurrecting for p in points],
        "dormant": [p.dormant for p in points], "churn": [p.churn_rate for p in points],
        "targets": _lines(health.targets, "churn_rate")})
    rows = join(html("<tr data-date='{p.date}'><td>{p.date}</td><td class='num'>{p.new:,}</td><td class='num'>{p.returning:,}</td>"
                     "<td class='num'>{p.resurrecting:,}</td><td class='num'>{p.dormant:,}</td>"
                     "<td class='num'>{churn}</td></tr>", p=p, churn=percent(p.churn_rate)) for p in points[-limit_rows:])
    table = html("<table id='lifecycle-table'><thead><tr><th>Interval</th><th class='num'>New</th><th class='num'>Returning</th>"
                 "<th class='num'>Resurrecting</th><th class='num'>Dormant</th><th class='num'>Churn</th></tr></thead>"
                 "<tbody>{rows}</tbody></table>", rows=rows)
    return join([figures, chart, table])


def _nps(health: CustomerHealth) -> Html:
    result = health.nps_over_time
    if result is None:
        return Html("<p class='sub'>No survey described yet: PUT /v1/surveys/{key} (responses are read without one).</p>")
    total = result.total
    figures = html("<p class='figures'><span>NPS <b id='nps-now'>{nps}</b></span> <span>responses <b id='nps-responses'>"
                   "{n:,}</b></span> <span class='sub'>survey {survey} · promoters {p:,} · passives {pa:,} · detractors {d:,}"
                   "</span></p>", nps=nps_text(total), n=total.responses, survey=result.survey, p=total.promoters,
                   pa=total.passives, d=total.detractors)
    chart = _chart("nps-chart", "NPS per interval with its 95% interval", {
        "kind": "nps", "dates": [p.date for p in result.dates], "nps": [p.summary.nps for p in result.dates],
        "low": [p.summary.nps_low for p in result.dates], "high": [p.summary.nps_high for p in result.dates],
        "targets": _lines(health.targets, "nps")})
    segments = Html("")
    if health.nps_by_segment is not None and health.nps_by_segment.breakdowns:
        found = health.nps_by_segment.breakdowns
        segments = join([
            Html("<h3>By segment</h3>"),
            _chart("segments-chart", "NPS by cohort", {
                "kind": "segments", "targets": _lines(health.targets, "nps"),
                "rows": [{"label": b.value, "nps": b.summary.nps, "low": b.summary.nps_low, "high": b.summary.nps_high}
                         for b in found]}),
            html("<table id='segments-table'><thead><tr><th>Cohort</th><th class='num'>Responses</th>"
                 "<th class='num'>NPS (95%)</th></tr></thead><tbody>{rows}</tbody></table>",
                 rows=join(html("<tr data-segment='{v}'><td>{v}</td><td class='num'>{n:,}</td><td class='num'>{s}</td></tr>",
                                v=b.value or "(none)", n=b.summary.responses, s=nps_text(b.summary)) for b in found))])
    return join([figures, chart, segments])


def _verbatims(health: CustomerHealth) -> Html:
    answers = health.nps_over_time.answers if health.nps_over_time is not None else []
    if not answers:
        return Html("<p class='sub'>No free-text answers in the range.</p>")
    return html("<ul class='verbatims' id='verbatims'>{items}</ul>", items=join(
        html("<li><span class='pill'>{score}</span> “{answer}” <span class='sub'>{person} · {at:%Y-%m-%d}</span></li>",
             score="–" if a.score is None else f"{a.score:g}", answer=a.answer, person=a.person_id[:10], at=a.timestamp)
        for a in answers))


def _journeys(health: CustomerHealth, limit_rows: int) -> Html:
    edges = health.journeys.edges
    if not edges:
        return Html("<p class='sub'>No journeys in the range.</p>")
    nodes = list(dict.fromkeys(name for e in edges for name in (e.source, e.target)))
    chart = _chart("paths-chart", "Top journeys", {
        "kind": "sankey", "nodes": nodes, "links": [{"source": e.source, "target": e.target, "value": e.persons} for e in edges]})
    rows = join(html("<tr><td>{e.source}</td><td>{e.target}</td><td class='num'>{e.persons:,}</td>"
                     "<td class='num'>{e.mean_seconds:,.0f}</td></tr>", e=e) for e in edges[:limit_rows])
    return join([chart, html("<table id='paths-table'><thead><tr><th>From</th><th>To</th><th class='num'>Persons</th>"
                             "<th class='num'>Mean s</th></tr></thead><tbody>{rows}</tbody></table>", rows=rows)])


def _cohorts(health: CustomerHealth) -> Html:
    if not health.cohorts:
        return Html("<p class='sub'>No cohorts yet: PUT /v1/cohorts/{key}.</p>")
    return html("<table id='cohorts-table'><thead><tr><th>Cohort</th><th class='num'>Persons now</th></tr></thead>"
                "<tbody>{rows}</tbody></table>", rows=join(
                    html("<tr data-cohort='{key}'><td><a href='/dashboard/customer/cohorts/{path}'>{label}</a></td>"
                         "<td class='num'>{size:,}</td></tr>", key=key, path=quote(key, safe=""), label=label, size=size)
                    for key, label, size in health.cohorts))


def _header(title: str, health: CustomerHealth, message: str) -> Html:
    view = health.view
    error = html("<div class='banner alert' role='alert' id='view-error'>{m}</div>", m=message) if message else Html("")
    return html("<nav class='sections'><a href='/dashboard'>Experiments</a><a href='/dashboard/insights'>Insights</a>"
                "<a href='/dashboard/customer'>Customer health</a></nav><h1>{title}</h1>{error}"
                "<p class='sub'>{date_from} – {date_to} · {timezone} · {interval}s{event}</p>",
                title=title, error=error, date_from=view["date_from"], date_to=view["date_to"],
                timezone=view["timezone"], interval=view["interval"],
                event=f" · event {view['event']}" if view["event"] else " · any event")


def health_body(health: CustomerHealth, message: str = "") -> Html:
    """The Customer health page: every panel, each linking to its full insight."""
    view = health.view
    survey = {"survey": health.survey} if health.survey else {}
    return join([
        _header("Customer health", health, message),
        html("<div class='grid'>{a}{b}</div>",
             a=_card("actives", "Active persons", _link("actives", view), _actives(health, 1)),
             b=_card("lifecycle", "Lifecycle and churn", _link("lifecycle", view), _lifecycle(health, 4))),
        html("<div class='grid'>{a}{b}</div>",
             a=_card("nps", "Net Promoter Score", _link("nps", view, **survey), _nps(health)),
             b=_card("answers", "Latest verbatims", _link("nps", view, **survey), _verbatims(health))),
        html("<div class='grid'>{a}{b}</div>",
             a=_card("journeys", "Top journeys", _link("paths", view), _journeys(health, 5)),
             b=_card("cohorts", "Cohorts", "/dashboard/customer", _cohorts(health))),
    ])


def full_insight_body(kind: str, health: CustomerHealth) -> Html:
    """One panel's full insight: its chart and every row."""
    titles = {"actives": "Active persons", "lifecycle": "Lifecycle and churn", "nps": "Net Promoter Score",
              "paths": "Journeys"}
    panels = {"actives": lambda: _actives(health, 366), "lifecycle": lambda: _lifecycle(health, 1000),
              "nps": lambda: join([_nps(health), Html("<h3>Latest verbatims</h3>"), _verbatims(health)]),
              "paths": lambda: _journeys(health, 25)}
    return join([_header(titles[kind], health, ""), _card(kind, titles[kind], _link(kind, health.view), panels[kind](),
                                                          wide=True)])


def cohort_body(detail: CohortDetail, members: list[str]) -> Html:
    """A cohort's page: its rules, size over recent days and the first members."""
    cohort = detail.cohort
    chart = _chart("cohort-chart", "Cohort size per day", {
        "kind": "actives", "dates": [s.date for s in detail.sizes], "targets": [],
        "series": [{"name": "persons", "values": [s.persons for s in detail.sizes]}]})
    rules = join(html("<li><code>{rule}</code></li>", rule=str(rule)) for rule in cohort.rules)
    return html("<nav class='sections'><a href='/dashboard/customer'>Customer health</a></nav>"
                "<h1>{label}</h1><p class='sub'>cohort {key} · {kind} · <b id='cohort-size'>{size:,}</b> persons now</p>"
                "<section class='card'><h2>Size</h2>{chart}</section><section class='card'><h2>Rules</h2><ul>{rules}</ul>"
                "</section><section class='card'><h2>Members</h2><p class='sub'>first {n:,} · export: "
                "<code>GET /v1/cohorts/{key}/persons.csv</code></p><ul id='members'>{members}</ul></section>",
                label=cohort.label, key=cohort.key, kind="static" if cohort.is_static else f"match {cohort.match}",
                size=detail.persons, chart=chart, rules=rules or Html("<li>static ids</li>"), n=len(members),
                members=join(html("<li><code>{m}</code></li>", m=m) for m in members))
