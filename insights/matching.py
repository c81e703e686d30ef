"""What the funnel and retention engines take in: an event definition and a date range's instants.

An `EventMatch` is an event name plus an optional SQL condition over the `events` row (the
shared filter layer's output: a UInt8 expression and the bound parameters it names), so any
filter the layer can express plugs in unchanged. The engines rename each condition's
parameters apart (`{p0:String}` of step 2 becomes `{s2_p0:String}`), so conditions built
independently never collide.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EngineInputError", "EventMatch", "range_bounds", "namespaced"]


class EngineInputError(ValueError):
    """An impossible query; `field` names what to fix (a JSON path such as `steps[2].event`)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class EventMatch:
    """Events named `event` that satisfy `where` (SQL over the `events` row; empty: every one)."""

    event: str
    where: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def condition(self, prefix: str, event_parameter: str) -> tuple[str, dict[str, Any]]:
        """The UInt8 SQL condition and its parameters, every parameter renamed with `prefix`."""
        where, parameters = namespaced(self.where, self.parameters, prefix)
        sql = f"(event = {{{event_parameter}:String}}" + (f" AND ({where}))" if where else ")")
        return sql, {event_parameter: self.event, **parameters}


_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):")


def namespaced(sql: str, parameters: Mapping[str, Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """`sql` and `parameters` with every parameter name prefixed by `prefix` + `_`."""
    return (_PARAMETER.sub(lambda m: f"{{{prefix}_{m.group(1)}:", sql),
            {f"{prefix}_{name}": value for name, value in parameters.items()})


def range_bounds(date_from: dt.date, date_to: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants [start of `date_from`, start of the day after `date_to`) of local days in `timezone`."""
    try:
        tz = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise EngineInputError("timezone", f"unknown IANA time zone {timezone!r}") from None
    if date_from > date_to:
        raise EngineInputError("date_from", "is after date_to")
    start = dt.datetime.combine(date_from, dt.time(), tz)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)
