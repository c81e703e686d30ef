"""Customer-insight documents without a store: the NPS interval, cohort filters and breakdowns in the
shared query shape, cohorts from CSV, targets."""

from __future__ import annotations

import math

import msgspec
import pytest

from insights.cohorts import parse_cohort, static_ids_from_csv
from insights.query import Breakdown, InsightError, PropertyFilter, validate_breakdown, validate_filters
from insights.surveys import summarize
from insights.targets import parse_targets


@pytest.mark.parametrize(("scores", "nps", "margin"), [
    ([10, 9, 9, 8, 7, 6, 5, 0, 10, 3], 0.0, 100 * 1.959964 * math.sqrt(0.8 / 10)),
    ([10, 10, 9, 7, 0], 40.0, 100 * 1.959964 * math.sqrt((0.8 - 0.16) / 5)),
])
def test_nps_and_its_interval(scores: list[int], nps: float, margin: float) -> None:
    promoters, detractors = sum(s >= 9 for s in scores), sum(s <= 6 for s in scores)
    summary = summarize(len(scores), promoters, len(scores) - promoters - detractors, detractors, sum(scores),
                        sum(s * s for s in scores))
    assert summary.nps == pytest.approx(nps) and summary.nps_margin == pytest.approx(margin, rel=1e-5)
    assert summary.average == pytest.approx(sum(scores) / len(scores))
    assert summary.nps_low is not None and summary.nps_low >= -100


def test_one_response_has_no_average_interval_and_none_has_no_score() -> None:
    assert summarize(1, 1, 0, 0, 10, 100).average_low is None
    assert summarize(0, 0, 0, 0, 0, 0).nps is None


def test_cohort_filters_and_breakdowns_are_validated_naming_the_field() -> None:
    validate_filters([PropertyFilter(type="cohort", key="power-users")], "filters")
    for condition, field in ((PropertyFilter(type="cohort"), "filters[0].key"),
                             (PropertyFilter("plan", type="cohort", key="a"), "filters[0].property"),
                             (PropertyFilter("plan", key="a"), "filters[0].key")):
        with pytest.raises(InsightError) as refused:
            validate_filters([condition], "filters")
        assert refused.value.field == field
    validate_breakdown(Breakdown(type="cohort", cohorts=["a", "b"]), 25)
    with pytest.raises(InsightError, match="cohorts"):
        validate_breakdown(Breakdown("plan", cohorts=["a"]), 25)


def test_cohort_documents_and_csv() -> None:
    assert static_ids_from_csv("user_id,name\nu1,Ann\nu2,Bo\n\nu1,Ann\n") == ["u1", "u2"]
    assert parse_cohort(b'{"key": "v", "static_ids": ["u1"]}').is_static
    with pytest.raises(InsightError, match="not both"):
        parse_cohort(b'{"key": "v", "static_ids": ["u1"], "rules": [{"type": "cohort", "key": "w"}]}')
    with pytest.raises(InsightError) as refused:
        parse_cohort(b'{"key": "v", "rules": [{"type": "cohort", "key": "v"}]}')
    assert refused.value.field == "rules[0].key"


def test_targets_name_a_figure_and_a_direction() -> None:
    targets = parse_targets(msgspec.json.encode({"targets": [{"metric": "nps", "value": 70},
                                                             {"metric": "churn_rate", "direction": "at_most", "value": 0.05}]}))
    assert [t.caption for t in targets.targets] == ["nps ≥ 70", "churn_rate ≤ 0.05"]
    with pytest.raises(InsightError) as refused:
        parse_targets(b'{"targets": [{"metric": "nps", "value": 1, "direction": "up"}]}')
    assert refused.value.field.startswith("targets[0].direction")
