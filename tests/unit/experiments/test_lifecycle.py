"""Lifecycle rules: status transitions, phases guarding started experiments, layer overlap, new fields."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

from experiments.assignment import compile_definition, sdk_document
from experiments.definitions import (
    DefinitionError,
    ExperimentDefinition,
    Variant,
    parse_definition,
)
from experiments.layers import Layer, layer_conflict
from experiments.lifecycle import next_phase, revise, start, transition

NOW = datetime(2026, 3, 1, tzinfo=timezone.utc)
LATER = NOW + timedelta(days=3)


def _definition(**fields: Any) -> ExperimentDefinition:
    document = {"key": "exp", "conversion_event": "Bought",
                "variants": [{"key": "control", "weight": 0.5}, {"key": "treatment", "weight": 0.5}], **fields}
    return parse_definition(json.dumps(document))


def _running() -> ExperimentDefinition:
    return revise(None, _definition(status="running"), NOW)


def test_a_new_experiment_is_a_draft_and_starting_stamps_the_times() -> None:
    draft = revise(None, _definition(), NOW)
    assert (draft.status, draft.started_at, draft.phase) == ("draft", None, 1)
    running = transition(draft, "running", LATER)
    assert (running.started_at, running.phase_started_at) == (LATER, LATER)
    stopped = transition(running, "stopped", LATER + timedelta(hours=1))
    assert stopped.stopped_at == LATER + timedelta(hours=1) and stopped.started_at == LATER
    with pytest.raises(DefinitionError) as error:
        transition(stopped, "draft", LATER)
    assert error.value.field == "status"


def test_server_managed_fields_and_the_status_are_kept_when_a_request_omits_them() -> None:
    running = _running()
    revised = revise(running, _definition(name="renamed", started_at=LATER.isoformat(), phase=7), LATER)
    assert (revised.status, revised.started_at, revised.phase, revised.name) == ("running", NOW, 1, "renamed")
    assert revise(running, _definition(), LATER) == running  # unchanged request: nothing to store


_weights = st.lists(st.integers(1, 9), min_size=2, max_size=4).map(lambda ws: [w / sum(ws) for w in ws])


@given(weights=_weights, renamed=st.booleans())
def test_changing_arms_of_a_started_experiment_needs_a_new_phase(weights: list[float], renamed: bool) -> None:
    running = _running()
    keys = [f"{'v' if renamed else 'control'}{i}" if i else "control" for i in range(len(weights))]
    variants = [{"key": k, "weight": w} for k, w in zip(keys, weights)]
    requested = _definition(variants=variants)
    if [(v.key, v.weight) for v in requested.variants] == [(v.key, v.weight) for v in running.variants]:
        assert revise(running, requested, LATER) == running
        return
    for previous in (running, transition(running, "stopped", LATER)):
        with pytest.raises(DefinitionError) as error:
            revise(previous, requested, LATER)
        assert error.value.field == "variants"
        phased = revise(previous, requested, LATER, new_phase=True)
        assert phased.phase == 2 and phased.assignment_salt != previous.assignment_salt
        assert phased.phase_started_at == LATER and phased.started_at == NOW
        explicit = revise(previous, _definition(variants=variants, salt="fresh-salt"), LATER)
        assert (explicit.phase, explicit.assignment_salt) == (2, "fresh-salt")


@given(low=st.floats(0, 1), high=st.floats(0, 1), units=st.lists(st.text(min_size=1, max_size=12), max_size=20))
def test_raising_coverage_of_a_running_experiment_keeps_every_included_unit(
    low: float, high: float, units: list[str]
) -> None:
    low, high = sorted((low, high))
    before = revise(None, _definition(status="running", coverage=low), NOW)
    after = revise(before, _definition(coverage=high), LATER)
    assert after.phase == before.phase and after.assignment_salt == before.assignment_salt
    old, new = compile_definition(before), compile_definition(after)
    for unit in units:
        was = old.evaluate(unit)
        if was.in_experiment:
            assert new.evaluate(unit).variant == was.variant


def test_drafts_change_freely_but_have_no_phase_to_end() -> None:
    draft = revise(None, _definition(), NOW)
    changed = revise(draft, _definition(variants=[{"key": "a", "weight": 0.9}, {"key": "b", "weight": 0.1}]), NOW)
    assert changed.variants == [Variant("a", 0.9), Variant("b", 0.1)] and changed.phase == 1
    with pytest.raises(DefinitionError) as error:
        revise(draft, _definition(), NOW, new_phase=True)
    assert error.value.field == "new_phase"


def test_next_phase_takes_a_given_salt_and_refuses_the_current_one() -> None:
    running = _running()
    assert next_phase(running, LATER, "spring").assignment_salt == "spring"
    assert next_phase(next_phase(running, LATER), LATER).assignment_salt == "exp-phase3"
    with pytest.raises(DefinitionError):
        next_phase(running, LATER, running.assignment_salt)


def test_running_experiments_in_one_layer_must_not_overlap() -> None:
    def layered(key: str, start: float, end: float, status: str = "running", name: str = "home") -> ExperimentDefinition:
        return replace(_definition(key=key, layer={"name": name, "start": start, "end": end}), status=status)

    mine = layered("mine", 0.4, 0.6)
    assert layer_conflict(mine, [layered("left", 0.0, 0.4), layered("right", 0.6, 1.0)]) is None
    assert layer_conflict(mine, [layered("draft", 0.5, 0.7, status="draft")]) is None
    assert layer_conflict(mine, [layered("other-layer", 0.5, 0.7, name="search")]) is None
    assert "'clash'" in (layer_conflict(mine, [layered("clash", 0.55, 0.7)]) or "")
    assert Layer("l", 0.0, 0.5).overlaps(Layer("l", 0.49, 1.0)) and not Layer("l", 0.0, 0.5).overlaps(Layer("l", 0.5, 1))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"unit": "has space"}, "unit"),
        ({"overrides": {"qa": "nope"}}, "overrides.qa"),
        ({"targeting": {"attribute": "country", "op": "in", "value": "US"}}, "targeting.value"),
        ({"layer": {"name": "home", "start": 0.6, "end": 0.2}}, "layer"),
        ({"layer": {"name": "has space"}}, "layer.name"),
        ({"guardrail_metrics": ["a", "a"]}, "guardrail_metrics"),
        ({"status": "paused"}, "status"),
    ],
)
def test_invalid_assignment_fields_are_named(fields: dict[str, Any], field: str) -> None:
    with pytest.raises(DefinitionError) as error:
        _definition(**fields)
    assert error.value.field == field


def test_the_sdk_document_carries_what_evaluation_needs_and_nothing_else() -> None:
    definition = _definition(status="running", hypothesis="green sells", salt="s1",
                             variants=[{"key": "control", "weight": 0.5, "payload": {"color": "blue"}},
                                       {"key": "treatment", "weight": 0.5, "payload": [1, 2]}],
                             layer={"name": "home", "start": 0.0, "end": 0.5}, overrides={"qa": "treatment"},
                             targeting={"attribute": "country", "op": "equals", "value": "US"})
    document = sdk_document(definition)
    assert set(document) == {"key", "unit", "bucket_by", "status", "salt", "phase", "coverage", "variants", "targeting",
                             "layer", "overrides"}
    assert document["variants"][1] == {"key": "treatment", "weight": 0.5, "payload": [1, 2]}
    assert document["layer"] == {"name": "home", "start": 0.0, "end": 0.5} and document["salt"] == "s1"


def test_a_draft_can_start_from_an_earlier_phase_start_to_analyse_stored_history() -> None:
    history = NOW - timedelta(days=30)
    started = start(_definition(), NOW, history)
    assert (started.status, started.started_at, started.phase_started_at) == ("running", NOW, history)
    assert start(_definition(), NOW).phase_started_at == NOW
    for when, definition in ((LATER, _definition()), (history.replace(tzinfo=None), _definition()),
                             (history, started), (history, transition(started, "stopped", LATER))):
        with pytest.raises(DefinitionError) as refused:
            start(definition, NOW, when)
        assert refused.value.field == "phase_started_at"
