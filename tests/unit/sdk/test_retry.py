"""`RetryBudget`: one budget per outage shared by every batch, fail fast once spent, probes."""

from __future__ import annotations

from sdk.retry import RetryBudget, verdict

from ..fake_clock import FakeClock


def test_batches_of_one_outage_share_one_budget() -> None:
    clock = FakeClock(100.0)
    budget = RetryBudget(10, probe_seconds=5, clock=clock)
    assert budget.may_attempt() and budget.allows_wait(60)  # no outage: any wait is fine
    budget.failed()
    assert budget.allows_wait(10) and not budget.allows_wait(10.5)
    clock.now += 8
    budget.failed()  # a second batch failing does not restart the budget
    assert budget.allows_wait(2) and not budget.allows_wait(2.5)


def test_a_spent_budget_fails_fast_but_probes_every_probe_seconds() -> None:
    clock = FakeClock(100.0)
    budget = RetryBudget(10, probe_seconds=5, clock=clock)
    budget.failed()
    clock.now += 10
    assert budget.spent
    assert budget.may_attempt()  # the first probe
    assert [budget.may_attempt() for _ in range(100)] == [False] * 100
    clock.now += 5
    assert budget.may_attempt() and not budget.may_attempt()


def test_an_answer_ends_the_outage_and_restores_the_whole_budget() -> None:
    clock = FakeClock(100.0)
    budget = RetryBudget(10, clock=clock)
    assert budget.answered() is None
    budget.failed()
    clock.now += 12
    assert budget.answered() == 12
    assert not budget.in_outage and budget.may_attempt()
    budget.failed()
    assert budget.allows_wait(10)


def test_413_asks_for_smaller_batches_and_other_4xx_are_rejected() -> None:
    assert verdict(413) == "too_large"
    assert [verdict(s) for s in (400, 401, 403, 422)] == ["rejected"] * 4
    assert [verdict(s) for s in (None, 408, 429, 500, 503)] == ["retry"] * 5
