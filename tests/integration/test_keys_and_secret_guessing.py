"""Which key opens what, as a browser app, a server SDK and an attacker see it: definitions (rules,
overrides, payloads) need the server-side SDK key; the public write key only gets its own variants;
secret guesses are throttled per client address without locking the admin out; secrets can come
from files, and a short admin secret is refused at start."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from loadtests.server_process import CollectorProcess, free_port
from northstar.admin_client import AdminClient

AB = [{"key": "control", "weight": 0.5, "payload": {"colour": "grey"}},
      {"key": "treatment", "weight": 0.5, "payload": {"colour": "internal-green-7"}}]
QA_EMAIL = "qa.lead@customer-internal.example"
TARGETING = {"attribute": "email", "op": "regex", "value": r".*@(bigbank|megacorp)\.example$"}


def _from(address: str, **options: object) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x address reaches the collector)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), **options)


@pytest.fixture(scope="module")
def private_experiment(collector: CollectorProcess) -> str:
    api = AdminClient(collector.url, collector.admin_secret)
    key = f"private-{uuid.uuid4().hex[:8]}"
    api.save_experiment({"key": key, "conversion_event": f"Converted {key}", "variants": AB, "status": "running",
                         "overrides": {QA_EMAIL: "treatment"}, "targeting": TARGETING})
    api.save_experiment({"key": f"{key}-draft", "conversion_event": "x", "variants": AB})
    return key


def test_definitions_need_the_sdk_key_and_a_write_key_is_told_why(
    collector: CollectorProcess, private_experiment: str
) -> None:
    url = collector.url + "/v1/sdk/definitions"
    refused = httpx.get(url, auth=(collector.write_key, ""))
    assert refused.status_code == 403
    assert refused.json()["error"] == "definitions need the server-side SDK key; browsers use POST /v1/assign"
    assert QA_EMAIL not in refused.text
    assert httpx.get(url, auth=("not-a-key-of-any-kind", "")).status_code == 401
    served = httpx.get(url, auth=(collector.sdk_key, ""))
    assert served.status_code == 200 and QA_EMAIL in served.text and "bigbank" in served.text


def test_assign_with_the_write_key_answers_only_the_units_own_variant(
    collector: CollectorProcess, private_experiment: str
) -> None:
    key = private_experiment
    with httpx.Client(base_url=collector.url, auth=(collector.write_key, "")) as browser:
        targeted = browser.post("/v1/assign", json={"unit_id": "u-1", "attributes": {"email": "a@bigbank.example"},
                                                    "experiments": [key, f"{key}-draft"]})
        outside = browser.post("/v1/assign", json={"unit_id": "u-2", "attributes": {"email": "a@gmail.example"},
                                                   "experiments": [key]})
        everything = browser.post("/v1/assign", json={"unit_id": "u-3"})
    assert targeted.status_code == outside.status_code == everything.status_code == 200
    answer = targeted.json()["assignments"]
    assert set(answer) == {key, f"{key}-draft"}
    assert set(answer[key]) == {"variant", "payload", "in_experiment", "reason"}
    assert answer[key]["reason"] == "assigned"
    assert answer[key]["payload"] == next(v["payload"] for v in AB if v["key"] == answer[key]["variant"])
    assert answer[f"{key}-draft"] == {"variant": None, "payload": None, "in_experiment": False,
                                      "reason": "unknown_experiment"}  # a draft is not disclosed
    assert outside.json()["assignments"][key] == {"variant": "control", "payload": {"colour": "grey"},
                                                  "in_experiment": False, "reason": "not_targeted"}
    for response in (targeted, outside, everything):
        assert QA_EMAIL not in response.text and "bigbank" not in response.text and "megacorp" not in response.text
    with_sdk_key = httpx.post(collector.url + "/v1/assign", auth=(collector.sdk_key, ""), json={"unit_id": "u-1"})
    assert with_sdk_key.status_code == 200


def test_secret_guesses_are_throttled_per_address_and_the_admin_keeps_access(
    collector: CollectorProcess, api: AdminClient
) -> None:
    wrong = {"Authorization": "Bearer not-the-admin-secret-at-all"}
    with _from("127.0.0.31", base_url=collector.url) as attacker:
        answers = [attacker.get("/v1/status", headers=wrong) for _ in range(60)]
        statuses = [response.status_code for response in answers]
        assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}, statuses
        retry_after = int(answers[-1].headers["retry-after"])
        assert 1 <= retry_after <= 60 and "retry after" in answers[-1].json()["error"]
        assert api.status()["accepted"] >= 0  # the admin, from 127.0.0.1, is not blocked
        right_but_blocked = attacker.get("/v1/status", headers={"Authorization": f"Bearer {collector.admin_secret}"})
        assert right_but_blocked.status_code == 429  # while blocked nothing is checked: no oracle
        assert attacker.get("/health").status_code == 200  # no secret presented, nothing refused
        assert attacker.post("/v1/batch", json={"batch": []}, auth=(collector.write_key, "")).status_code == 200


def test_every_kind_of_secret_guess_counts_in_one_budget_per_address(collector: CollectorProcess) -> None:
    guesses = [
        lambda http: http.get("/v1/experiments", headers={"Authorization": "Bearer wrong-secret"}),
        lambda http: http.get("/dashboard", params={"token": "wrong-secret"}),
        lambda http: http.get("/dashboard", headers={"Authorization": "Bearer wrong-secret"}),
        lambda http: http.post("/dashboard/login", data={"secret": "wrong-secret"}),
        lambda http: http.get("/v1/sdk/definitions", auth=("wrong-sdk-key", "")),
        lambda http: http.post("/v1/assign", json={"unit_id": "u"}, auth=("wrong-key", "")),
    ]
    with _from("127.0.0.32", base_url=collector.url) as attacker:
        statuses = [guesses[n % len(guesses)](attacker).status_code for n in range(24)]
        assert 429 not in statuses[:20] and statuses[20:] == [429] * 4, statuses
        throttled_page = attacker.post("/dashboard/login", data={"secret": collector.admin_secret})
        assert throttled_page.status_code == 429 and "Too many wrong secrets" in throttled_page.text
        assert "retry-after" in throttled_page.headers and "set-cookie" not in throttled_page.headers
    with _from("127.0.0.33", base_url=collector.url) as neighbour:
        assert neighbour.post("/dashboard/login", data={"secret": collector.admin_secret}).status_code == 303


def test_secrets_from_files_stay_out_of_the_command_line(tmp_path: Path) -> None:
    with CollectorProcess(tmp_path / "c", admin_secret="admin-secret-from-a-file", sdk_key="sdk-key-from-a-file-00",
                          secret_files=True) as collector:
        command_line = Path(f"/proc/{collector.pid}/cmdline").read_bytes().decode()
        assert "--admin-secret-file=" in command_line
        for secret in (collector.write_key, collector.admin_secret, collector.sdk_key):
            assert secret not in command_line
        assert AdminClient(collector.url, collector.admin_secret).status()["accepted"] == 0
        assert httpx.get(collector.url + "/v1/sdk/definitions", auth=(collector.sdk_key, "")).status_code == 200
        assert httpx.post(collector.url + "/v1/batch", json={"batch": []},
                          auth=(collector.write_key, "")).status_code == 200
        assert "Generated" not in collector.log()


def test_a_short_admin_secret_is_refused_at_start_and_nothing_is_created(tmp_path: Path) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "northstar", "serve", "--port", str(free_port()), "--data-dir", str(tmp_path / "d"),
         "--admin-secret=too-short"], capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1
    assert refused.stderr.startswith("error: the admin secret must be at least 16 characters (this one has 9)")
    assert not any(p.name in {"write_key", "sdk_key", "admin_secret"} for p in (tmp_path / "d").glob("*"))
