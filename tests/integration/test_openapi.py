"""The OpenAPI 3.1 document, generated from the routes' types, served without a credential; and a
bounded schemathesis run against a collector of its own: no 5xx, every response conforms."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loadtests.server_process import CollectorProcess
from northstar.admin_client import AdminClient

# ~30 operations, valid and invalid inputs, on 2 shared cores: 16 examples each keep the run near 30 s.
EXAMPLES_PER_OPERATION = 16
KNOWN_EXPERIMENT, KNOWN_METRIC = "described-experiment", "described-metric"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, ignored_auth]  # ignored_auth: a route behind a credential refuses without it


@pytest.fixture(scope="module")
def described_collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CollectorProcess]:
    """A collector of its own: the run stores whatever events and definitions it generates.

    The run presents wrong credentials on purpose (ignored_auth) far more often than the guess
    throttle's burst allows; 429 is a described answer, but ignored_auth wants to see the 401
    each time, so this collector throttles only past a large burst (the throttle has its own
    tests: tests/unit/northstar/web/test_throttle.py, test_keys_and_secret_guessing.py).
    """
    with CollectorProcess(tmp_path_factory.mktemp("openapi"),
                          extra_args=("--secret-guess-burst=1000000",)) as process:
        yield process


def _document(collector: CollectorProcess) -> dict[str, Any]:
    answer = httpx.get(f"{collector.url}/v1/openapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    return dict(answer.json())


def test_every_api_route_is_described_with_its_credential(described_collector: CollectorProcess) -> None:
    document = _document(described_collector)
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["adminSecret"] == {
        "type": "http", "scheme": "bearer", "description": "Authorization: Bearer <admin secret>."}
    assert {"writeKey", "sdkKey"} <= set(document["components"]["securitySchemes"])
    paths = document["paths"]
    assert paths["/v1/experiments/{key}/results"]["get"]["security"] == [{"adminSecret": []}]
    assert paths["/v1/assign"]["post"]["security"] == [{"sdkKey": []}]
    assert paths["/v1/batch"]["post"]["security"] == [{"writeKey": []}, {}]  # or writeKey in the body
    assert paths["/v1/openapi.json"]["get"]["security"] == []
    assert not [path for path in paths if path.startswith("/dashboard")]
    put = paths["/v1/experiments/{key}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ExperimentDefinition"}
    assert put["responses"]["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"}
    assert {"200", "400", "401", "404", "413"} <= set(put["responses"])
    results = paths["/v1/experiments/{key}/results"]["get"]
    assert results["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ResultDocument"}
    assert document["components"]["schemas"]["ResultDocument"]["properties"]["decision"]["enum"]


def _credentials(case: schemathesis.Case, collector: CollectorProcess) -> dict[str, str]:
    schemes = {name for requirement in case.operation.definition.raw.get("security", []) for name in requirement}
    if "adminSecret" in schemes:
        return {"Authorization": f"Bearer {collector.admin_secret}"}
    if schemes & {"writeKey", "sdkKey"}:
        return {"Authorization": "Basic " + base64.b64encode(f"{collector.write_key}:".encode()).decode()}
    return {}


def test_schemathesis_finds_no_server_error_and_no_nonconforming_response(
    described_collector: CollectorProcess,
) -> None:
    api = AdminClient(described_collector.url, described_collector.admin_secret)
    api.save_metric({"key": KNOWN_METRIC, "kind": "mean", "event": "Order", "property": "revenue"})
    api.save_experiment({"key": KNOWN_EXPERIMENT, "conversion_event": "Order", "metrics": [KNOWN_METRIC],
                         "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}]})
    api.start_experiment(KNOWN_EXPERIMENT)
    schema = schemathesis.openapi.from_dict(_document(described_collector))
    failures = [
        failure
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for result in schema.get_all_operations()
        if (failure := _fuzz(result.ok(), mode, described_collector))
    ]
    assert not failures, "\n\n".join(failures)


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, collector: CollectorProcess) -> str | None:
    """Run `operation` on generated inputs of `mode`; the first failure found, or None."""
    known = KNOWN_METRIC if operation.path.startswith("/v1/metrics") else KNOWN_EXPERIMENT

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode), stored=st.booleans())
    def conforms(case: schemathesis.Case, stored: bool) -> None:
        if stored and "key" in (case.path_parameters or {}):  # half the keyed calls reach a stored one
            case.path_parameters["key"] = known
            if isinstance(case.body, dict) and "key" in case.body:
                case.body["key"] = known
        case.call_and_validate(base_url=collector.url, checks=CHECKS, headers=_credentials(case, collector))

    try:
        conforms()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body): the positive run covers it
        return None if mode is GenerationMode.NEGATIVE else f"{operation.path}: no valid input"
    except Exception as failure:  # every operation is run; the failures are reported together
        return f"{mode.value} {operation.method.upper()} {operation.path}: {failure}"
    return None
