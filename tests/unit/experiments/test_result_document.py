"""The typed results document: a closed-set decision beside the sentence, the JSON shape the API
has always served (fields only added), and one table whether rendered in process or from JSON."""

from __future__ import annotations

import msgspec
import pytest

from experiments.analysis import Decision, analyse
from experiments.queries import ExperimentSums
from experiments.report import render_table
from experiments.result_document import ResultDocument, decode_result_document, result_document

from .test_analysis import BOUNCES, CONVERSION, DEFINITION, _conversion, _count, _settings, _sums

CASES: dict[Decision, ExperimentSums] = {
    "win": _sums([_conversion(5000, 500)], [_conversion(5000, 650)]),
    "loss": _sums([_conversion(5000, 650)], [_conversion(5000, 500)]),
    "inconclusive": _sums([_conversion(5000, 500)], [_conversion(5000, 505)]),
    "guardrail_harm": _sums([_conversion(5000, 500), _count(5000, 10000, 30000)],
                            [_conversion(5000, 650), _count(5000, 10400, 32000)]),
    "sample_ratio_mismatch": _sums([_conversion(5000, 500)], [_conversion(4000, 800)]),
    "no_exposures": ExperimentSums((), multiple_exposures=0),
}
SERVED_KEYS = {"experiment", "name", "analysis", "alpha", "verdict", "guardrail_harms", "variants",
               "multiple_exposures", "srm", "metrics", "timeline"}


def _document(decision: Decision) -> ResultDocument:
    guardrails = [BOUNCES] if decision == "guardrail_harm" else []
    return result_document(analyse(DEFINITION, [CONVERSION], CASES[decision], _settings(), guardrails=guardrails))


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
    served = msgspec.to_builtins(_document("win"))
    del served["metrics"][0]["comparisons"][0]["verdict"]
    with pytest.raises(msgspec.ValidationError, match=r"verdict.*\$\.metrics\[0\]\.comparisons\[0\]"):
        decode_result_document(msgspec.json.encode(served))
