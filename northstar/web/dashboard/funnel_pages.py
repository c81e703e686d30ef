"""Dashboard Funnel and Retention pages, and the persons who reached or dropped after a funnel step.

`/dashboard/funnel?steps=A&steps=B&from=YYYY-MM-DD&to=...&window=SECONDS&order=ordered`: a bar
chart of persons per step (converted and dropped after it) and a table whose drop-off counts
link to `/dashboard/funnel/persons?...&step=k&dropped=1` (person ids linking to the person pages).
`/dashboard/retention?event=E&return=R&from=...&to=...&interval=day&periods=8`: the grid, each
cell shaded by its share of the cohort through CSS classes (`share-0` .. `share-10`), no inline
style (the dashboard's CSP). Same numbers as the API: the same request types and engines.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from insights.funnel_queries import (
    FunnelEvent,
    FunnelPersonsRequest,
    FunnelRequest,
    RetentionRequest,
    run_funnel,
    run_funnel_persons,
    run_retention,
)
from insights.funnels import FunnelResult
from insights.limits import AnalyticalQueries
from insights.query import InsightError
from insights.retention import RetentionResult
from northstar.web.auth import ApiRoute, Credential
from northstar.web.dashboard.charts import funnel_chart
from northstar.web.dashboard.html import Html, html, join
from northstar.web.dashboard.pages import page

__all__ = ["funnel_dashboard_routes", "funnel_body", "retention_body"]

Form = dict[str, list[str]]


def _one(form: Form, name: str, default: str) -> str:
    return (form.get(name) or [default])[0] or default


def _days(form: Form) -> tuple[dt.date, dt.date]:
    try:
        date_to = dt.date.fromisoformat(_one(form, "to", dt.date.today().isoformat()))
        date_from = dt.date.fromisoformat(_one(form, "from", (date_to - dt.timedelta(days=13)).isoformat()))
    except ValueError:
        raise InsightError("date_from", "from/to take YYYY-MM-DD") from None
    return date_from, date_to


def _int(form: Form, name: str, default: int) -> int:
    try:
        return int(_one(form, name, str(default)))
    except ValueError:
        raise InsightError(name, "a whole number") from None


def funnel_request(form: Form) -> FunnelRequest:
    """The funnel the page's URL describes (checked by the engine layer)."""
    date_from, date_to = _days(form)
    order = _one(form, "order", "ordered")
    if order not in ("ordered", "strict", "unordered"):
        raise InsightError("order", "ordered, strict or unordered")
    return FunnelRequest([FunnelEvent(step) for step in form.get("steps", []) if step], date_from, date_to,
                         _one(form, "timezone", "UTC"), _int(form, "window", 14 * 86400), order)  # type: ignore[arg-type]


_FUNNEL_FORM_STEPS = 5


def _input(label: str, name: str, value: str, kind: str = "text") -> Html:
    return html("<label>{label}<input type='{kind}' name='{name}' value='{value}'></label>",
                label=label, kind=kind, name=name, value=value)


def _select(label: str, name: str, value: str, options: tuple[str, ...]) -> Html:
    choices = join(html("<option{selected}>{option}</option>", option=option,
                        selected=html(" selected") if option == value else html("")) for option in options)
    return html("<label>{label}<select name='{name}'>{choices}</select></label>", label=label, name=name, choices=choices)


def _range_inputs(form: Form) -> Html:
    return join([_input("from", "from", _one(form, "from", ""), "date"), _input("to", "to", _one(form, "to", ""), "date"),
                 _input("zone", "timezone", _one(form, "timezone", "UTC"))])


def funnel_form(form: Form) -> Html:
    """The query form (a GET to this page, so the URL holds the funnel): up to five steps."""
    steps = [step for step in form.get("steps", []) if step]
    inputs = join(_input(f"step {n + 1}", "steps", steps[n] if n < len(steps) else "")
                  for n in range(max(_FUNNEL_FORM_STEPS, len(steps))))
    return html("<form class='query card' id='query' method='get' action='/dashboard/funnel'>"
                "<fieldset>{inputs}</fieldset>{range}{window}{order}<button type='submit'>Show</button></form>",
                inputs=inputs, range=_range_inputs(form),
                window=_input("window (seconds)", "window", _one(form, "window", str(14 * 86400)), "number"),
                order=_select("order", "order", _one(form, "order", "ordered"), ("ordered", "strict", "unordered")))


def retention_form(form: Form) -> Html:
    """The query form (a GET to this page, so the URL holds the query)."""
    return html("<form class='query card' id='query' method='get' action='/dashboard/retention'>"
                "{start}{back}{range}{interval}{periods}<button type='submit'>Show</button></form>",
                start=_input("start event", "event", _one(form, "event", "")),
                back=_input("return event", "return", _one(form, "return", "")), range=_range_inputs(form),
                interval=_select("interval", "interval", _one(form, "interval", "day"), ("day", "week", "month")),
                periods=_input("periods", "periods", _one(form, "periods", "8"), "number"))


def funnel_body(form: Form, result: FunnelResult | None, message: str) -> Html:
    """The form, and the chart and table of one funnel (or why there is none)."""
    if result is None:
        return html("<h1>Funnel</h1>{form}<p class='error' id='error'>{message}</p>", form=funnel_form(form),
                    message=message)
    steps = result.steps
    names = [f"{i + 1}. {s.event}" for i, s in enumerate(steps)]
    dropped = [steps[i].count - steps[i + 1].count if i + 1 < len(steps) else 0 for i in range(len(steps))]
    chart = funnel_chart(names, [s.count for s in steps], dropped)
    base = {k: v for k, v in form.items() if k not in ("step", "dropped")}

    def persons_link(step: int, count: int, drop: bool) -> Html:
        query = urlencode([*((k, v) for k, vs in base.items() for v in vs), ("step", step), ("dropped", int(drop))])
        return html("<a href='/dashboard/funnel/persons?{q}'>{n:,}</a>", q=query, n=count)

    rows = join(html("<tr><td>{name}</td><td class='num'>{reached}</td><td class='num'>{first:.1%}</td>"
                     "<td class='num'>{previous:.1%}</td><td class='num'>{drop}</td></tr>",
                     name=names[i], reached=persons_link(i + 1, s.count, False), first=s.conversion_from_first,
                     previous=s.conversion_from_previous,
                     drop=persons_link(i + 1, dropped[i], True) if i + 1 < len(steps) else html("–"))
                for i, s in enumerate(steps))
    return html("<h1>Funnel</h1>{form}{chart}<table id='funnel-steps'><thead><tr><th>step</th><th>persons</th>"
                "<th>of first</th><th>of previous</th><th>dropped after</th></tr></thead><tbody>{rows}</tbody></table>",
                form=funnel_form(form), chart=chart, rows=rows)


def retention_request(form: Form) -> RetentionRequest:
    date_from, date_to = _days(form)
    start = _one(form, "event", "")
    interval = _one(form, "interval", "day")
    if interval not in ("day", "week", "month"):
        raise InsightError("interval", "day, week or month")
    return RetentionRequest(FunnelEvent(start), FunnelEvent(_one(form, "return", start)), date_from, date_to,
                            _one(form, "timezone", "UTC"), interval, _int(form, "periods", 8))  # type: ignore[arg-type]


def retention_body(form: Form, result: RetentionResult | None, message: str) -> Html:
    """The form and the retention grid, each cell shaded by its share of the cohort (CSS classes, no inline style)."""
    if result is None:
        return html("<h1>Retention</h1>{form}<p class='error' id='error'>{message}</p>", form=retention_form(form),
                    message=message)
    periods = max((len(c.values) for c in result.cohorts), default=0)
    header = join(html("<th class='num'>{k}</th>", k=k) for k in range(periods))

    def cell(value: int, size: int) -> Html:
        share = value / size if size else 0.0
        return html("<td class='num share share-{tenth}' title='{share:.0%}'>{value:,}</td>",
                    tenth=round(share * 10), share=share, value=value)

    rows = join(html("<tr><td>{start}</td><td class='num'>{size:,}</td>{cells}</tr>", start=c.start.isoformat(),
                     size=c.size, cells=join(cell(v, c.size) for v in c.values))
                for c in result.cohorts)
    return html("<h1>Retention</h1>{form}<table id='retention-grid' class='retention'><thead><tr><th>cohort</th>"
                "<th class='num'>size</th>{header}</tr></thead><tbody>{rows}</tbody></table>",
                form=retention_form(form), header=header, rows=rows)


def funnel_dashboard_routes(queries: AnalyticalQueries) -> list[ApiRoute]:
    """Funnel, funnel persons and retention pages, behind the dashboard session."""
    def funnel_page(form: Form) -> str:
        try:
            result, message = run_funnel(queries.rows, funnel_request(form)), ""
        except InsightError as error:
            result, message = None, str(error)
        return page("Funnel", funnel_body(form, result, message))

    def persons_page(form: Form) -> str:
        try:
            request = funnel_request(form)
            step, dropped = _int(form, "step", 1), _one(form, "dropped", "0") == "1"
            found = run_funnel_persons(queries.rows, FunnelPersonsRequest(
                request.steps, request.date_from, request.date_to, request.timezone, request.window_seconds,
                request.order, step=step, dropped=dropped, limit=1000))
        except InsightError as error:
            return page("Funnel persons", html("<h1>Funnel persons</h1><p class='error' id='error'>{m}</p>", m=str(error)))
        title = f"Persons who {'dropped after' if dropped else 'reached'} step {step}"
        items = join(html("<li><a href='/dashboard/persons/{id}'>{id}</a></li>", id=person) for person in found.person_ids)
        more = html("<p>More than {n:,}: narrow the query.</p>", n=len(found.person_ids)) if found.has_more else ""
        return page(title, html("<h1>{title}</h1><ul id='funnel-persons'>{items}</ul>{more}",
                                title=title, items=items, more=more))

    def retention_page(form: Form) -> str:
        try:
            result, message = run_retention(queries.rows, retention_request(form)), ""
        except InsightError as error:
            result, message = None, str(error)
        return page("Retention", retention_body(form, result, message))

    def serve(render: Callable[[Form], str]) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            form = parse_qs(request.url.query, keep_blank_values=True)
            return HTMLResponse(await run_in_threadpool(render, form))
        return handler

    signed_in = Credential.DASHBOARD_SESSION
    return [
        ApiRoute("/dashboard/funnel", ("GET",), serve(funnel_page), signed_in),
        ApiRoute("/dashboard/funnel/persons", ("GET",), serve(persons_page), signed_in),
        ApiRoute("/dashboard/retention", ("GET",), serve(retention_page), signed_in),
    ]
