"""Duplicate commands and fills, and the bounded windows that remember them."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain import fold
from streams.domain.window import Window
from tests.support.builders import arena, command, money, small_policies, with_agents


def test_resent_command_produces_nothing_new() -> None:
    h = arena(funded=0)
    fund = command("FundArena", amount=money(100), command_id="fund-1")
    first = h.run(fund)
    again = h.run(fund)
    assert len(first.events) == 1
    assert again.duplicate
    assert again.events == ()
    assert again.state is first.state
    assert h.state.treasury == 100


def test_rejected_commands_are_remembered_too() -> None:
    h = arena(funded=0)
    bad = command("WithdrawFunds", amount=money(5), command_id="w-1")
    assert h.run(bad).events[0].type == "CommandRejected"
    assert h.run(bad).duplicate


def test_replay_rebuilds_the_command_window() -> None:
    h = arena(funded=0)
    fund = command("FundArena", amount=money(100), command_id="fund-1")
    h.run(fund)
    rebuilt = fold(h.events)[h.state.arena_id]
    assert "fund-1" in rebuilt.command_ids
    assert rebuilt == h.state


def test_command_ids_older_than_the_window_are_forgotten() -> None:
    policies = small_policies()
    policies["evolution_policy"]["command_id_window"] = 3
    h = arena(funded=0, policies=policies)
    first = command("FundArena", amount=money(1), command_id="old")
    h.run(first)
    for i in range(3):
        h.do("FundArena", amount=money(1), command_id=f"newer-{i}")
    assert len(h.state.command_ids) == 3
    assert "old" not in h.state.command_ids
    assert not h.run(first).duplicate  # documented limit: beyond the window it is processed again


def test_fill_refs_older_than_the_window_are_forgotten() -> None:
    policies = small_policies()
    policies["evolution_policy"]["fill_ref_window"] = 2
    h = with_agents(arena(policies=policies), "a", allocate=1_000)
    for ref in ("f1", "f2", "f3"):
        h.do("RecordPnL", agent_id="a", amount=money(1), period=1, source="trading", fill_ref=ref)
    assert "f1" not in h.state.fill_refs
    assert "f2" in h.state.fill_refs
    assert "f3" in h.state.fill_refs


def test_window_readding_a_key_keeps_its_place() -> None:
    w = Window(2).add("a").add("b").add("a")
    assert list(w.entries()) == [(0, "a"), (1, "b")]


def test_shrinking_a_window_evicts_the_oldest() -> None:
    w = Window(5).add("a").add("b").add("c").resized(2)
    assert [key for _, key in w.entries()] == ["b", "c"]
    assert "a" not in w


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 6), keys=st.lists(st.sampled_from("abcdefghij"), max_size=40))
def test_window_behaves_like_a_bounded_fifo_set(capacity: int, keys: list[str]) -> None:
    window = Window(capacity)
    model: list[str] = []
    for key in keys:
        before = window
        window = window.add(key)
        if key not in model:
            model.append(key)
            model = model[-capacity:]
        assert [k for _, k in window.entries()] == model
        assert all((k in window) == (k in model) for k in "abcdefghij")
        added, evicted = window.changes_since(before)
        assert set(added) | {k for _, k in before.entries()} - set(evicted) == set(model)
        assert Window.from_entries(capacity, window.head, window.tail, {k: c for c, k in window.entries()}) == window
