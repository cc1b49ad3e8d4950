"""Splitting state into header, agent rows and window entries, and back."""

from __future__ import annotations

import json

from streams.domain import from_rows, row_changes, to_rows, touched_agents
from streams.domain.rows import StateRows
from tests.support.builders import EUR, Harness, arena, money, with_agents


def _busy_arena() -> Harness:
    h = with_agents(arena(funded=5_000_000), "a", "b", "c", allocate=100_000)
    for period in range(3):
        for agent_id, amount in (("a", 900), ("b", -400), ("c", 50)):
            h.do(
                "RecordPnL",
                agent_id=agent_id,
                amount=amount,
                currency=EUR,
                period=period,
                source="trading",
                fill_ref=f"{agent_id}-{period}",
            )
    h.do("KillAgent", agent_id="c", reason="x")
    h.do("RunEvolutionCycle", cycle=1)
    return h


def test_rows_round_trip_through_json() -> None:
    h = _busy_arena()
    rows = to_rows(h.state)
    wire = json.loads(json.dumps([rows.header, rows.agents, rows.command_ids, rows.fill_refs]))
    rebuilt = from_rows(StateRows(*wire))
    assert rebuilt == h.state


def test_row_changes_list_only_what_a_command_touched() -> None:
    h = _busy_arena()
    before = h.state
    out = h.do("RecordPnL", agent_id="a", amount=money(5), period=9, source="trading", fill_ref="z")
    changes = row_changes(before, out.state, out.events)
    assert set(changes.agents) == {"a"}
    assert changes.command_ids_put == {out.events[0].causation_id: before.command_ids.tail}
    assert changes.fill_refs_put == {"z": before.fill_refs.tail}
    assert changes.header["last_seq"] == out.state.last_seq


def test_applying_row_changes_to_old_rows_gives_the_new_rows() -> None:
    h = _busy_arena()
    before = h.state
    rows = to_rows(before)
    out = h.do("RunEvolutionCycle", cycle=2)
    changes = row_changes(before, out.state, out.events)
    agents = {**rows.agents, **changes.agents}
    command_ids = {k: v for k, v in rows.command_ids.items() if k not in changes.command_ids_deleted}
    command_ids.update(changes.command_ids_put)
    fill_refs = {k: v for k, v in rows.fill_refs.items() if k not in changes.fill_refs_deleted}
    fill_refs.update(changes.fill_refs_put)
    assert from_rows(StateRows(changes.header, agents, command_ids, fill_refs)) == out.state


def test_touched_agents_names_the_agents_an_event_changes() -> None:
    h = with_agents(arena(), "p")
    out = h.do("MutateAgent", parent_id="p", child_id="k", seed=1)
    assert [touched_agents(e) for e in out.events] == [(), ("k",)]
    assert touched_agents(h.do("FundArena", amount=money(1)).events[0]) == ()
