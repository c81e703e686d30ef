"""A simulated experiment through the real collector: every metric's numbers equal scipy/statsmodels
computed directly on the simulated rows (conversion, mean revenue, count, ratio, CUPED, Holm)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import httpx
import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient, ApiError

START = datetime(2026, 4, 1, tzinfo=timezone.utc)
VARIANTS = ("control", "treatment")


@dataclass
class Unit:
    """What one simulated unit did, as the analysis should count it."""

    variant: str
    converted: float = 0.0
    revenue: float = 0.0
    sessions: float = 0.0
    pre_converted: float = 0.0
    pre_revenue: float = 0.0
    pre_sessions: float = 0.0
    events: list[dict] = field(default_factory=list)


def _event(user: str, name: str, at: datetime, **properties: object) -> dict:
    return {"type": "track", "event": name, "userId": user, "timestamp": at.isoformat(),
            "properties": properties, "messageId": uuid.uuid4().hex}


def _simulate(key: str, units: int, seed: int) -> dict[str, Unit]:
    """Treatment: more orders and sessions. Events outside the 7-day window, in another
    currency or before the look-back must not count; some are resent (same messageId)."""
    rng = np.random.default_rng(seed)
    order, session = f"Order {key}", f"Session {key}"
    simulated = {}
    for n in range(units):
        user, variant = f"{key}-u{n}", VARIANTS[n % 2]
        unit = simulated[user] = Unit(variant)
        exposed = START + timedelta(hours=n % 72, minutes=n % 60)
        unit.events.append(_event(user, "Experiment Viewed", exposed, experiment_id=key, variation_id=variant))
        unit.events.append(_event(user, "Experiment Viewed", exposed + timedelta(hours=5),
                                  experiment_id=key, variation_id=variant))
        propensity = rng.gamma(2.0, 0.5)  # correlates before and after: what CUPED exploits
        for before in (True, False):
            lift = 1.3 if variant == "treatment" and not before else 1.0
            for _ in range(rng.poisson(propensity * 2 * lift)):
                at = exposed + timedelta(hours=float(rng.uniform(-13 * 24, -1) if before else rng.uniform(1, 6 * 24)))
                unit.events.append(_event(user, session, at))
                if before:
                    unit.pre_sessions += 1
                else:
                    unit.sessions += 1
            for _ in range(rng.poisson(propensity * 0.6 * lift)):
                at = exposed + timedelta(hours=float(rng.uniform(-13 * 24, -1) if before else rng.uniform(1, 6 * 24)))
                amount = round(float(rng.gamma(2.0, 20.0)), 2)
                unit.events.append(_event(user, order, at, revenue=amount, currency="EUR"))
                if before:
                    unit.pre_converted, unit.pre_revenue = 1.0, unit.pre_revenue + amount
                else:
                    unit.converted, unit.revenue = 1.0, unit.revenue + amount
        unit.events.append(_event(user, order, exposed + timedelta(days=8), revenue=99.0, currency="EUR"))
        unit.events.append(_event(user, order, exposed - timedelta(days=20), revenue=99.0, currency="EUR"))
        if n % 9 == 0:  # counted by conversion but not by EUR revenue
            unit.events.append(_event(user, order, exposed + timedelta(hours=2), revenue=50.0, currency="USD"))
            unit.converted = 1.0
    return simulated


def _send(collector: CollectorProcess, events: list[dict]) -> None:
    for start in range(0, len(events), 400):
        batch = events[start:start + 400]
        response = httpx.post(collector.url + "/v1/import", json={"batch": batch}, auth=(collector.write_key, ""))
        assert response.json()["accepted"] == len(batch)


@pytest.fixture(scope="module")
def experiment(collector: CollectorProcess) -> tuple[str, dict[str, Unit]]:
    api = AdminClient(collector.url, collector.admin_secret)
    key = f"metrics-{uuid.uuid4().hex[:8]}"
    order, session = f"Order {key}", f"Session {key}"
    for metric in (
        {"key": f"{key}-revenue", "kind": "mean", "event": order, "property": "revenue",
         "filters": [{"property": "currency", "equals": "EUR"}], "name": "Revenue per user"},
        {"key": f"{key}-sessions", "kind": "count", "event": session},
        {"key": f"{key}-rps", "kind": "ratio", "event": order, "property": "revenue",
         "filters": [{"property": "currency", "in": ["EUR"]}], "denominator": {"event": session}},
    ):
        assert api.save_metric(metric)["success"]
    simulated = _simulate(key, 600, seed=7)
    events = [event for unit in simulated.values() for event in unit.events]
    _send(collector, events)
    _send(collector, events[::10])  # resent copies: counted once
    api.wait_until_stored()
    api.save_experiment(_definition(key, cuped=False))
    return key, simulated


def _definition(key: str, *, cuped: bool) -> dict:
    return {"key": key, "conversion_event": f"Order {key}", "conversion_window_hours": 168,
            "metrics": [f"{key}-revenue", f"{key}-sessions", f"{key}-rps"],
            "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}],
            "analysis": {"method": "fixed", "correction": "holm", "cuped": cuped}}


def _arrays(simulated: dict[str, Unit], attribute: str) -> list[np.ndarray]:
    return [np.array([getattr(u, attribute) for u in simulated.values() if u.variant == v]) for v in VARIANTS]


def _ratio_ztest(numerators: list[np.ndarray], denominators: list[np.ndarray]) -> tuple[float, float]:
    """Delta-method ratio test computed from the raw per-unit rows."""
    ratios, variances = [], []
    for x, y in zip(numerators, denominators):
        ratio = x.sum() / y.sum()
        covariance = np.cov(x, y, ddof=1)
        residual = covariance[0, 0] - 2 * ratio * covariance[0, 1] + ratio**2 * covariance[1, 1]
        ratios.append(ratio)
        variances.append(residual / y.mean() ** 2 / len(x))
    difference = ratios[1] - ratios[0]
    return difference, 2 * stats.norm.sf(abs(difference) / np.sqrt(sum(variances)))


def test_every_metric_matches_scipy_on_the_raw_rows(experiment: tuple[str, dict[str, Unit]], api: AdminClient) -> None:
    key, simulated = experiment
    result = api.results(key)
    metrics = {metric["key"]: metric for metric in result["metrics"]}
    assert list(metrics) == ["conversion", f"{key}-revenue", f"{key}-sessions", f"{key}-rps"]
    assert [v["units"] for v in result["variants"]] == [300, 300]
    assert result["srm"]["mismatch"] is False and result["multiple_exposures"] == 0

    converted = _arrays(simulated, "converted")
    conversion = metrics["conversion"]
    assert [v["total"] for v in conversion["variants"]] == [a.sum() for a in converted]
    _, p_conversion = proportions_ztest([converted[1].sum(), converted[0].sum()], [300, 300])
    assert conversion["comparisons"][0]["p_value"] == pytest.approx(p_conversion, rel=1e-9)

    p_values = [p_conversion]
    for metric_key, attribute in ((f"{key}-revenue", "revenue"), (f"{key}-sessions", "sessions")):
        control, treatment = _arrays(simulated, attribute)
        (comparison,) = metrics[metric_key]["comparisons"]
        assert [v["value"] for v in metrics[metric_key]["variants"]] == pytest.approx([control.mean(), treatment.mean()])
        welch = stats.ttest_ind(treatment, control, equal_var=False)
        assert comparison["method"] == "welch-ttest"
        assert comparison["absolute_effect"] == pytest.approx(treatment.mean() - control.mean(), rel=1e-9)
        assert comparison["p_value"] == pytest.approx(welch.pvalue, rel=1e-7)
        p_values.append(welch.pvalue)

    difference, p_ratio = _ratio_ztest(_arrays(simulated, "revenue"), _arrays(simulated, "sessions"))
    (ratio,) = metrics[f"{key}-rps"]["comparisons"]
    assert ratio["absolute_effect"] == pytest.approx(difference, rel=1e-9)
    assert ratio["p_value"] == pytest.approx(p_ratio, rel=1e-7)
    p_values.append(p_ratio)

    holm = multipletests(p_values, method="holm")[1]
    adjusted = [metric["comparisons"][0]["adjusted_p_value"] for metric in result["metrics"]]
    assert adjusted == pytest.approx(list(holm), rel=1e-9)
    assert sum(result["timeline"]["exposures"]["treatment"]) == 300
    assert len(result["timeline"]["days"]) == 3


def test_cuped_equals_regression_adjustment_on_the_raw_rows(
    experiment: tuple[str, dict[str, Unit]], api: AdminClient
) -> None:
    key, simulated = experiment
    api.save_experiment(_definition(key, cuped=True))
    metrics = {metric["key"]: metric for metric in api.results(key)["metrics"]}
    for metric_key, attribute in ((f"{key}-revenue", "revenue"), (f"{key}-sessions", "sessions")):
        metric, covariate = _arrays(simulated, attribute), _arrays(simulated, f"pre_{attribute}")
        pooled_x = np.concatenate(covariate).mean()
        centred = [np.cov(y, x, ddof=1) for y, x in zip(metric, covariate)]
        theta = sum(c[0, 1] * (len(y) - 1) for c, y in zip(centred, metric)) / sum(
            c[1, 1] * (len(y) - 1) for c, y in zip(centred, metric))
        adjusted = [y - theta * (x - pooled_x) for y, x in zip(metric, covariate)]
        welch = stats.ttest_ind(adjusted[1], adjusted[0], equal_var=False)
        (comparison,) = metrics[metric_key]["comparisons"]
        assert comparison["method"] == "cuped-welch-ttest" and comparison["cuped"]
        assert comparison["absolute_effect"] == pytest.approx(adjusted[1].mean() - adjusted[0].mean(), rel=1e-9)
        assert comparison["p_value"] == pytest.approx(welch.pvalue, rel=1e-7)
        plain = stats.ttest_ind(metric[1], metric[0], equal_var=False)
        assert comparison["p_value"] < plain.pvalue  # the covariate explains variance
    assert metrics[f"{key}-rps"]["comparisons"][0]["cuped"] is False


def test_guardrails_share_the_query_but_not_the_correction(
    experiment: tuple[str, dict[str, Unit]], api: AdminClient
) -> None:
    key, simulated = experiment
    with pytest.raises(ApiError, match="guardrail_metrics: no metric 'no-such-metric'"):
        api.save_experiment({**_definition(key, cuped=False), "guardrail_metrics": ["no-such-metric"]})
    api.save_experiment({**_definition(key, cuped=False), "metrics": [f"{key}-revenue", f"{key}-rps"],
                         "guardrail_metrics": [f"{key}-sessions"]})
    result = api.results(key)
    assert [(m["key"], m["role"]) for m in result["metrics"]] == [
        ("conversion", "primary"), (f"{key}-revenue", "secondary"), (f"{key}-rps", "secondary"),
        (f"{key}-sessions", "guardrail")]
    control, treatment = _arrays(simulated, "sessions")
    (guardrail,) = result["metrics"][-1]["comparisons"]
    welch = stats.ttest_ind(treatment, control, equal_var=False)
    assert guardrail["p_value"] == pytest.approx(welch.pvalue, rel=1e-7)
    assert guardrail["adjusted_p_value"] == guardrail["p_value"]
    decision = [metric["comparisons"][0] for metric in result["metrics"][:3]]
    holm = multipletests([c["p_value"] for c in decision], method="holm")[1]
    assert [c["adjusted_p_value"] for c in decision] == pytest.approx(list(holm), rel=1e-9)
    assert result["guardrail_harms"] == []  # more sessions is better: no harm
