"""Dashboard pages of persons: one person (ids, properties, recent events) and a list of persons.

The list page renders any list of persons under a title, so the features that produce persons
(a property filter today; funnel drop-offs, cohort members, journey nodes later) share it.
Every value is escaped by `html`; no inline script or style (the dashboard's CSP holds).
"""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import quote

from collector.persons.store import Person, PersonEvent
from northstar.web.dashboard.html import Html, html, join
from northstar.web.dashboard.pages import page

__all__ = ["person_page", "person_list_page"]


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def _person_link(person: Person) -> Html:
    return html("<a href='/dashboard/persons/{path}'>{person_id}</a>",
                path=quote(person.person_id, safe=""), person_id=person.person_id)


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def person_page(person: Person, events: list[PersonEvent]) -> str:
    """One person: its distinct ids, properties, first/last seen, refused merges and latest events."""
    ids = join(html("<li><code>{distinct_id}</code></li>", distinct_id=i) for i in person.distinct_ids)
    properties = join(html("<tr><td>{name}</td><td class='wrap'>{value}</td></tr>", name=name, value=_value(value))
                      for name, value in sorted(person.properties.items()))
    rows = join(html("<tr><td>{when}</td><td>{type}</td><td>{event}</td><td><code>{distinct_id}</code></td></tr>",
                     when=_when(e.timestamp), type=e.type, event=e.event, distinct_id=e.distinct_id)
                for e in events)
    refusals = (html("<div class='banner alert' id='refusals' role='status'>{count} merge{plural} refused: an "
                     "identify or alias would have moved an already identified person.</div>",
                     count=person.merge_refusals, plural="s" * (person.merge_refusals != 1))
                if person.merge_refusals else "")
    body = html(
        "<h1>Person <code>{person_id}</code></h1>"
        "<p class='sub'>First seen {first} · last seen {last} · <a href='/dashboard/persons'>All persons</a></p>"
        "{refusals}<div class='grid'>"
        "<section class='card' id='distinct-ids'><h2>Distinct ids</h2><ul>{ids}</ul></section>"
        "<section class='card' id='properties'><h2>Properties</h2><table><tbody>{properties}</tbody></table>"
        "</section></div>"
        "<section class='card'><h2>Recent events</h2><table id='events'><thead><tr><th>Time (UTC)</th>"
        "<th>Type</th><th>Event</th><th>Distinct id</th></tr></thead><tbody>{rows}</tbody></table></section>",
        person_id=person.person_id, first=_when(person.first_seen) or "never", last=_when(person.last_seen) or "never",
        refusals=refusals, ids=ids, properties=properties, rows=rows,
    )
    return page(f"Person {person.person_id}", body)


def person_list_page(title: str, persons: list[Person], property_name: str = "", value: str = "") -> str:
    """Persons under `title`, latest activity first, with the property filter that chose them."""
    rows = join(
        html("<tr><td>{link}</td><td class='wrap'>{ids}</td><td>{first}</td><td>{last}</td>"
             "<td class='wrap'>{properties}</td></tr>",
             link=_person_link(p), ids=", ".join(p.distinct_ids), first=_when(p.first_seen), last=_when(p.last_seen),
             properties=", ".join(f"{k}: {_value(v)}" for k, v in sorted(p.properties.items())))
        for p in persons
    )
    body = html(
        "<h1>{title}</h1><p class='sub'>{count} person{plural}</p>"
        "<form class='filter' method='get' action='/dashboard/persons'>"
        "<label for='property'>Property</label> <input id='property' name='property' value='{property}'> "
        "<label for='value'>equals</label> <input id='value' name='value' value='{value}'> "
        "<button type='submit'>Filter</button></form>"
        "<section class='card'><table id='persons'><thead><tr><th>Person</th><th>Distinct ids</th>"
        "<th>First seen</th><th>Last seen</th><th>Properties</th></tr></thead><tbody>{rows}</tbody></table></section>",
        title=title, count=len(persons), plural="s" * (len(persons) != 1), property=property_name, value=value,
        rows=rows,
    )
    return page(title, body)
