"""The core's own check stops a broken rule from publishing money that does not add up."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from schemas.events import CapitalAllocated, Posting
from streams.domain import postings, state_problems, transition_problems
from streams.domain.postings import Postings
from tests.support.builders import arena, money, rejection_of, with_agents

_real_postings_of = postings.postings_of


def _allocations_post_half(payload: BaseModel) -> Postings:
    if isinstance(payload, CapitalAllocated):
        half = payload.amount.amount // 2
        return (Posting(debit=f"agent:{payload.agent_id}", credit="treasury", amount=half),)
    return _real_postings_of(payload)


def _allocations_post_to_a_stranger(payload: BaseModel) -> Postings:
    if isinstance(payload, CapitalAllocated):
        return (Posting(debit="agent:stranger", credit="treasury", amount=payload.amount.amount),)
    return _real_postings_of(payload)


@pytest.mark.parametrize("broken_rule", [_allocations_post_half, _allocations_post_to_a_stranger])
def test_broken_postings_rule_yields_conservation_violated_instead_of_events(
    monkeypatch: pytest.MonkeyPatch, broken_rule: object
) -> None:
    h = with_agents(arena(funded=1_000), "a")
    before = h.state
    monkeypatch.setattr(postings, "postings_of", broken_rule)
    out = h.do("AllocateCapital", agent_id="a", amount=money(400))
    assert rejection_of(out) == ("AllocationError", "CONSERVATION_VIOLATED")
    assert out.events[0].payload.error_kind.value == "CapitalConservationError"  # type: ignore[union-attr]
    assert "core check failed" in out.events[0].payload.message  # type: ignore[union-attr]
    # nothing moved: the state only advanced its seq, hash and command window
    assert (h.state.treasury, h.state.agents["a"].balance) == (before.treasury, 0)
    assert h.state.last_seq == before.last_seq + 1
    assert state_problems(h.state) == []


def test_broken_transition_is_reported_by_the_checker() -> None:
    h = with_agents(arena(funded=1_000), "a", allocate=300)
    before_alloc = h.events[-1]
    # pretend the allocation event had happened with no state change at all
    problems = transition_problems(h.state, h.state, [before_alloc])
    assert any("treasury moved by 0, postings say -300" in p for p in problems)
    assert any("agent a balance moved by 0, postings say 300" in p for p in problems)
