"""The typed results document: a closed-set decision beside the sentence, the JSON shape the API
has always served (fields only added), and one table whether rendered in process or from JSON."""

from __future__ import annotations

import msgspec
import pytest

from experiments.analysis import Decision, analyse
from experiments.queries import ExperimentSums
from experiments.report import render_table
from experiments.result_document import ResultDocument, decode_result_document, result_document

from .test_analysis import BOUNCES, CONVERSION, PLANNED, _conversion, _count, _settings, _sums

CASES: dict[Decision, ExperimentSums] = {
    "ship": _sums([_conversion(5000, 500)], [_conversion(5000, 650)]),
    "dont_ship": _sums([_conversion(5000, 500), _count(5000, 10000, 30000)],
                       [_conversion(5000, 650), _count(5000, 10400, 32000)]),
    "keep_running": _sums([_conversion(3000, 300)], [_conversion(3000, 305)]),
    "no_effect": _sums([_conversion(50_000, 5000)], [_conversion(50_000, 5010)]),
    "blocked": _sums([_conversion(5000, 500)], [_conversion(4000, 800)]),
}
SERVED_KEYS = {"experiment", "name", "status", "owner", "hypothesis", "started_at", "phase_started_at", "analysis",
               "alpha", "verdict", "reason", "plan", "warnings", "guardrail_harms", "variants",
               "multiple_exposures", "srm", "metrics", "timeline"}


def _document(decision: Decision) -> ResultDocument:
    guardrails = [BOUNCES] if decision == "dont_ship" else []
    definition = PLANNED
    if decision == "no_effect":
        definition = msgspec.structs.replace(PLANNED, decision=msgspec.structs.replace(
            PLANNED.decision, planned_units_per_variant=50_000))
    return result_document(analyse(definition, [CONVERSION], CASES[decision], _settings(), guardrails=guardrails))


@pytest.mark.parametrize("decision", list(CASES))
def test_each_outcome_has_its_decision_and_the_sentence_stays_in_verdict(decision: Decision) -> None:
    document = _document(decision)
    assert document.decision == decision
    served = msgspec.to_builtins(document)
    assert set(served) == SERVED_KEYS | {"decision"}
    assert served["verdict"] == document.summary and served["decision"] == decision


@pytest.mark.parametrize("decision", list(CASES))
def test_the_table_from_the_served_json_is_the_table_from_the_process(decision: Decision) -> None:
    document = _document(decision)
    decoded = decode_result_document(msgspec.json.encode(document))
    assert decoded == document
    assert render_table(decoded) == render_table(document)


def test_a_document_missing_a_field_is_refused_naming_it() -> None:
    served = msgspec.to_builtins(_document("ship"))
    del served["metrics"][0]["comparisons"][0]["verdict"]
    with pytest.raises(msgspec.ValidationError, match=r"verdict.*\$\.metrics\[0\]\.comparisons\[0\]"):
        decode_result_document(msgspec.json.encode(served))
