"""`Client.get_variant` without a network: bootstrap documents, first exposures, the exposure cache,
and no input that makes it raise."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdk import Client
from sdk.exposures import ExposureCache

EVALUATION = json.loads((Path(__file__).parents[2] / "vectors" / "assignment.json").read_text())["evaluation"]
DOCUMENT = {"experiments": EVALUATION["experiments"]}
AB = [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]


def test_bootstrap_from_a_file_serves_variants_offline(tmp_path: Path) -> None:
    path = tmp_path / "definitions.json"
    path.write_text(json.dumps(DOCUMENT))
    client = Client("wk", send=False, bootstrap=path)
    for case in EVALUATION["cases"]:
        result = client.get_variant(case["experiment"], case["unit_id"], case["attributes"], log_exposure=False,
                                    anonymous_id=case.get("anonymous_id"))
        assert (result.variant, result.payload, result.in_experiment, result.reason) == (
            case["variant"], case["payload"], case["in_experiment"], case["reason"])
    assert client.wait_for_definitions(0.01) is False  # a client that does not send does not fetch


def test_first_exposure_per_unit_and_variant_is_tracked_once() -> None:
    client = Client("wk", send=False, bootstrap=DOCUMENT)
    for _ in range(3):
        client.get_variant("vec-basic", "user-1")
        client.get_variant("vec-basic", "user-3")
        client.get_variant("vec-anonymous", "anon-1")
        client.get_variant("vec-overrides", "qa-1")  # forced: not an exposure
        client.get_variant("vec-coverage", "user-1")  # not covered: not an exposure
        client.get_variant("vec-basic", "user-2", log_exposure=False)
    exposures = [(m.get("userId"), m.get("anonymousId"), m["properties"]) for m in client.recorded]
    assert exposures == [
        ("user-1", None, {"experiment_id": "vec-basic", "variation_id": "control"}),
        ("user-3", None, {"experiment_id": "vec-basic", "variation_id": "treatment"}),
        (None, "anon-1", {"experiment_id": "vec-anonymous", "variation_id": "control"}),
    ]
    assert all(m["event"] == "Experiment Viewed" for m in client.recorded)


def test_exposure_cache_is_bounded_and_evicts_the_oldest() -> None:
    cache = ExposureCache(capacity=2)
    assert cache.first("a") and cache.first("b") and not cache.first("a")
    assert cache.first("c")  # evicts "a", the oldest
    assert not cache.first("b") and cache.first("a") and len(cache) == 2


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_DEFINITION = st.fixed_dictionaries(
    {"key": st.just("garbage"), "status": st.sampled_from(["running", "stopped", 3])},
    optional={"variants": _JSON | st.just(AB), "coverage": _JSON, "layer": _JSON, "overrides": _JSON,
              "targeting": _JSON, "salt": _JSON, "unit": _JSON},
)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(bootstrap=_JSON | st.fixed_dictionaries({"experiments": st.lists(_DEFINITION, max_size=2)}),
       unit_id=_JSON, attributes=_JSON, key=st.sampled_from(["garbage", "vec-basic"]) | _JSON)
def test_get_variant_never_raises(bootstrap: Any, unit_id: Any, attributes: Any, key: Any) -> None:
    client = Client("wk", send=False, bootstrap=bootstrap)
    result = client.get_variant(key, unit_id, attributes)
    assert result.in_experiment in (True, False)


def test_exposures_of_bucket_by_and_group_experiments_name_the_person_and_the_group() -> None:
    document = {"experiments": [
        {"key": "by-device", "status": "running", "bucket_by": "anonymous_id", "variants": AB},
        {"key": "by-company", "status": "running", "unit": "company", "variants": AB},
    ]}
    client = Client("wk", send=False, bootstrap=document)
    before = client.get_variant("by-device", None, anonymous_id="device-1")
    after = client.get_variant("by-device", "user-1", anonymous_id="device-1")
    assert before.variant == after.variant and before.in_experiment
    company = client.get_variant("by-company", "acme", anonymous_id="device-1")
    exposures = [(m.get("userId"), m.get("anonymousId"), m["properties"]) for m in client.recorded]
    assert exposures == [
        (None, "device-1", {"experiment_id": "by-device", "variation_id": before.variant}),
        ("user-1", "device-1", {"experiment_id": "by-device", "variation_id": before.variant}),
        (None, "device-1", {"experiment_id": "by-company", "variation_id": company.variant,
                            "group_type": "company", "group_id": "acme"}),
    ]


def test_opted_out_clients_capture_nothing_until_they_opt_in() -> None:
    client = Client("wk", send=False, bootstrap=DOCUMENT)
    client.opt_out()
    assert client.opted_out and client.track("user-1", "Clicked") is False
    assert client.get_variant("vec-basic", "user-1").in_experiment  # still evaluated, not logged
    assert client.recorded == [] and client.stats().enqueued == 0
    client.opt_in()
    assert client.track("user-1", "Clicked") is True and len(client.recorded) == 1
