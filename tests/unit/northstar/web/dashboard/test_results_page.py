"""The results page's words, rendered from results documents: each message once, zero traffic not
healthy, degenerate arms not shown as numbers, Bayesian pages in Bayesian terms."""

from __future__ import annotations

import re

from experiments.analysis import analyse
from experiments.queries import ExperimentSums
from experiments.result_document import result_document
from northstar.web.dashboard.pages import results_page
from tests.unit.experiments.test_analysis import CONVERSION, PLANNED, _conversion, _settings, _sums


def _page(sums: ExperimentSums, method: str = "fixed") -> str:
    text = results_page(result_document(analyse(PLANNED, [CONVERSION], sums, _settings(method=method))))
    return re.sub(r"<[^>]+>", " ", text)


def test_a_sample_ratio_mismatch_is_said_once_in_the_decision() -> None:
    page = _page(_sums([_conversion(5000, 500)], [_conversion(4000, 800)]))
    assert page.count("sample ratio mismatch (p = ") == 1
    assert "Traffic split as configured" not in page and "No verdict (sample ratio mismatch)" in page


def test_zero_traffic_is_not_shown_as_a_healthy_split() -> None:
    page = results_page(result_document(analyse(PLANNED, [CONVERSION], ExperimentSums((), 0), _settings())))
    assert "class='banner neutral' id='srm'" in page and "banner ok" not in page
    assert "No exposures yet" in page


def test_a_degenerate_arm_shows_a_warning_and_no_interval() -> None:
    page = _page(_sums([_conversion(5000, 500)], [_conversion(5000, 0)]))
    assert "has no variation" in page and "n/a (no variation)" in page
    assert "[-100.0%, -100.0%]" not in page and "-5.00pp [" not in page


def test_bayesian_pages_speak_of_credible_intervals_not_alpha_or_corrections() -> None:
    page = _page(_sums([_conversion(5000, 500)], [_conversion(5000, 600)]), method="bayesian")
    assert "95% credible" in page
    assert "alpha" not in page and "correction" not in page and "95% CI" not in page
