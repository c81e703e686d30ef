"""The dashboard's one renderer: any value is text (in an element or an attribute), markup built by
the renderer passes as it is, and the pages built on it carry no inline style."""

from __future__ import annotations

from html.parser import HTMLParser

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments.definitions import ExperimentDefinition
from northstar.web.dashboard.html import Html, html, join
from northstar.web.dashboard.pages import list_page, login_page, not_found_page


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(markup: str) -> _Elements:
    parser = _Elements()
    parser.feed(markup)
    parser.close()
    return parser


@given(st.text())
def test_any_value_stays_text_in_an_element_and_in_an_attribute(value: str) -> None:
    parsed = _parse(html("<p title='{value}' data-x=\"{value}\">{value}</p>", value=value))
    assert parsed.tags == [("p", {"title": value, "data-x": value})]
    assert "".join(parsed.text) == value


def test_markup_from_the_renderer_passes_and_format_specs_apply() -> None:
    cell = html("<td>{n:,}</td>", n=1234567)
    assert html("<tr>{cell}</tr>", cell=cell) == "<tr><td>1,234,567</td></tr>"
    assert html("{x:.1%}", x=0.1234) == "12.3%"
    assert join([cell, "<b>"], separator="&") == "<td>1,234,567</td>&amp;&lt;b&gt;"
    with pytest.raises(ValueError, match="format spec"):
        html("{m:>5}", m=Html("<i/>"))


@pytest.mark.parametrize("page", [
    lambda text: login_page(text),
    lambda text: not_found_page("experiment", text),
    lambda text: list_page([msgspec.convert({"key": "k", "name": text, "status": "running",
                                             "variants": [{"key": "a", "weight": 1.0}], "conversion_event": text},
                                            ExperimentDefinition)], Html("")),
])
def test_pages_show_markup_as_text_and_have_no_inline_style_or_script(page) -> None:
    hostile = "'\"><img src=x onerror=alert(1)><script>alert(2)</script><b style='x'>"
    parsed = _parse(page(hostile))
    assert not any(tag in {"img", "b"} for tag, _ in parsed.tags)
    scripts = [attributes for tag, attributes in parsed.tags if tag == "script"]  # the page's own files only
    assert all((a.get("src") or "").startswith("/dashboard/static/") or a.get("type") == "application/json"
               for a in scripts)
    assert not any("style" in attributes or any(a.startswith("on") for a in attributes) for _, attributes in parsed.tags)
    assert hostile in "".join(parsed.text) or repr(hostile) in "".join(parsed.text)
