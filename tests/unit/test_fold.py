"""decide is pure; evolve and fold rebuild state from events, idempotently."""

from __future__ import annotations

import pytest

from schemas.events import CapitalAllocated
from streams.domain import ArenaState, Rejection, SequenceGap, decide, evolve, fold
from tests.support.builders import Harness, arena, command, money, with_agents


def test_decide_returns_payloads_without_touching_the_state() -> None:
    h = with_agents(arena(), "a")
    before = h.state
    decision = decide(h.state, command("AllocateCapital", agent_id="a", amount=money(10)))
    assert isinstance(decision, list)
    assert isinstance(decision[0], CapitalAllocated)
    assert h.state is before
    refusal = decide(h.state, command("AllocateCapital", agent_id="nobody", amount=money(10)))
    assert isinstance(refusal, Rejection)


def test_redelivered_events_are_ignored_by_evolve() -> None:
    h = with_agents(arena(), "a", allocate=100)
    assert evolve(h.state, h.events[-1]) is h.state


def test_a_gap_in_the_history_raises() -> None:
    h = with_agents(arena(), "a", allocate=100)
    with pytest.raises(SequenceGap):
        fold(h.events[:2] + h.events[3:])


def test_fold_keeps_arenas_apart_and_can_resume() -> None:
    one = with_agents(arena(), "a", allocate=100)
    other = Harness(state=ArenaState.empty("arena-2"))
    other.do("CreateArena", currency="USD", seed=1, arena_id="arena-2")
    interleaved = [one.events[0], other.events[0], *one.events[1:]]
    states = fold(interleaved)
    assert states == {"arena-1": one.state, "arena-2": other.state}
    middle = fold(one.events[:3])
    assert fold(one.events[3:], middle)["arena-1"] == one.state
