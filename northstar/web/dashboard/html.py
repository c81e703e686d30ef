"""The dashboard's one HTML renderer: markup templates whose values are escaped unless already `Html`.

Every page and chart builds its markup with `html()`. A value that is not `Html` (markup this
module produced from a template) is formatted with its format spec and then escaped, quotes
included, so a definition's name, a key taken from the URL or an error message is always
text, never markup or an attribute break-out. Templates are literals in the dashboard's own
code; nothing else is trusted.
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from html import escape
from typing import Any

import msgspec

__all__ = ["Html", "html", "join", "json_script"]


class Html(str):
    """Markup built by `html` or `join`: inserted into other templates as it is."""

    __slots__ = ()


class _EscapingFormatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Html):
            if format_spec:
                raise ValueError("markup takes no format spec")
            return value
        return escape(format(value, format_spec), quote=True)


_FORMATTER = _EscapingFormatter()


def html(template: str, /, *args: Any, **values: Any) -> Html:
    """`template` (a literal, `str.format` syntax) with every value formatted, then escaped unless `Html`."""
    return Html(_FORMATTER.vformat(template, args, values))


def join(parts: Iterable[object], separator: str = "") -> Html:
    """Fragments side by side: `Html` parts as they are, any other text (and `separator`) escaped."""
    return Html(escape(separator, quote=True).join(
        part if isinstance(part, Html) else escape(str(part), quote=True) for part in parts))


def json_script(element_id: str, document: object) -> Html:
    """`document` as JSON in a `<script type="application/json">` element, for the page's own script to read.

    `<`, `>` and `&` are written as JSON escapes, so no value can close the element or open
    markup; the browser never runs it (not a script type), and CSP's script-src does not apply.
    """
    text = msgspec.json.encode(document).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Html(html("<script type='application/json' id='{id}'>", id=element_id) + text + "</script>")
