"""Splitting an arena's state into rows a key-value store can persist piecewise.

A stream processor must not rewrite a whole arena on every command. The state splits into:

* one small header row (totals, policies, seq/hash, window bounds),
* one row per agent,
* one row per idempotency-window entry (``key -> counter``), for command ids and fill refs.

A command changes the header, the agents its events touch (``touched_agents``) and a few window
entries; ``row_changes`` lists exactly those, in time proportional to the change. ``to_rows`` /
``from_rows`` convert the whole state both ways (JSON-able dicts) and round-trip exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from immutables import Map

from schemas.events import (
    AgentGraduated,
    AgentKilled,
    AgentSpawned,
    CapitalAllocated,
    CapitalReleased,
    Event,
    PnLRecorded,
)
from schemas.policies import EvolutionPolicy, TierPolicies
from streams.domain.state import AgentState, ArenaState, TierCounts
from streams.domain.window import Window

JsonRow = dict[str, Any]
ROW_FORMAT: Final = 1


def touched_agents(event: Event) -> tuple[str, ...]:
    """Ids of the agents whose rows ``event`` changes (AgentMutated changes none: the child arrives
    in the AgentSpawned that follows)."""
    payload = event.payload
    if isinstance(
        payload, PnLRecorded | CapitalAllocated | CapitalReleased | AgentKilled | AgentSpawned | AgentGraduated
    ):
        return (payload.agent_id,)
    return ()


def header_row(state: ArenaState) -> JsonRow:
    return {
        "format": ROW_FORMAT,
        "arena_id": state.arena_id,
        "exists": state.exists,
        "currency": state.currency,
        "tier_policy": state.tier_policy.model_dump(mode="json"),
        "evolution_policy": state.evolution_policy.model_dump(mode="json"),
        "seed": state.seed,
        "treasury": state.treasury,
        "agents_total": state.agents_total,
        "funded_total": state.funded_total,
        "withdrawn_total": state.withdrawn_total,
        "pnl_total": state.pnl_total,
        "tier_counts": [state.tier_counts.incubator, state.tier_counts.proving, state.tier_counts.arena],
        "last_seq": state.last_seq,
        "last_hash": state.last_hash,
        "last_cycle": state.last_cycle,
        "command_ids": [state.command_ids.capacity, state.command_ids.head, state.command_ids.tail],
        "fill_refs": [state.fill_refs.capacity, state.fill_refs.head, state.fill_refs.tail],
    }


def agent_row(agent: AgentState) -> JsonRow:
    return {
        "agent_id": agent.agent_id,
        "tier": agent.tier,
        "alive": agent.alive,
        "parent_id": agent.parent_id,
        "generation": agent.generation,
        "genome": dict(agent.genome),
        "born_seq": agent.born_seq,
        "balance": agent.balance,
        "allocated_total": agent.allocated_total,
        "pnl_total": agent.pnl_total,
        "pnl_records": agent.pnl_records,
        "pnl_peak": agent.pnl_peak,
        "max_drawdown": agent.max_drawdown,
    }


def agent_from_row(row: JsonRow) -> AgentState:
    return AgentState(
        agent_id=row["agent_id"],
        tier=row["tier"],
        alive=row["alive"],
        parent_id=row["parent_id"],
        generation=row["generation"],
        genome=dict(row["genome"]),
        born_seq=row["born_seq"],
        balance=row["balance"],
        allocated_total=row["allocated_total"],
        pnl_total=row["pnl_total"],
        pnl_records=row["pnl_records"],
        pnl_peak=row["pnl_peak"],
        max_drawdown=row["max_drawdown"],
    )


@dataclass(frozen=True, slots=True)
class StateRows:
    header: JsonRow
    agents: dict[str, JsonRow]
    command_ids: dict[str, int]
    fill_refs: dict[str, int]


def to_rows(state: ArenaState) -> StateRows:
    return StateRows(
        header=header_row(state),
        agents={agent_id: agent_row(agent) for agent_id, agent in state.agents.items()},
        command_ids={key: counter for counter, key in state.command_ids.entries()},
        fill_refs={key: counter for counter, key in state.fill_refs.entries()},
    )


def _window(bounds: list[int], entries: dict[str, int]) -> Window:
    capacity, head, tail = bounds
    return Window.from_entries(capacity, head, tail, entries)


def from_rows(rows: StateRows) -> ArenaState:
    h = rows.header
    if h.get("format") != ROW_FORMAT:
        raise ValueError(f"unknown header row format {h.get('format')!r}")
    incubator, proving, arena = h["tier_counts"]
    return ArenaState(
        arena_id=h["arena_id"],
        exists=h["exists"],
        currency=h["currency"],
        tier_policy=TierPolicies.model_validate(h["tier_policy"]),
        evolution_policy=EvolutionPolicy.model_validate(h["evolution_policy"]),
        seed=h["seed"],
        treasury=h["treasury"],
        agents_total=h["agents_total"],
        funded_total=h["funded_total"],
        withdrawn_total=h["withdrawn_total"],
        pnl_total=h["pnl_total"],
        tier_counts=TierCounts(incubator, proving, arena),
        last_seq=h["last_seq"],
        last_hash=h["last_hash"],
        last_cycle=h["last_cycle"],
        agents=Map({agent_id: agent_from_row(row) for agent_id, row in rows.agents.items()}),
        command_ids=_window(h["command_ids"], rows.command_ids),
        fill_refs=_window(h["fill_refs"], rows.fill_refs),
    )


@dataclass(frozen=True, slots=True)
class RowChanges:
    """What to write after one command: upserts and deletes, nothing else."""

    header: JsonRow
    agents: dict[str, JsonRow]
    command_ids_put: dict[str, int]
    command_ids_deleted: tuple[str, ...]
    fill_refs_put: dict[str, int]
    fill_refs_deleted: tuple[str, ...]


def row_changes(before: ArenaState, after: ArenaState, events: Iterable[Event]) -> RowChanges:
    agent_ids = {agent_id for event in events for agent_id in touched_agents(event)}
    cmd_put, cmd_del = after.command_ids.changes_since(before.command_ids)
    fill_put, fill_del = after.fill_refs.changes_since(before.fill_refs)
    return RowChanges(
        header=header_row(after),
        agents={agent_id: agent_row(after.agents[agent_id]) for agent_id in sorted(agent_ids)},
        command_ids_put=cmd_put,
        command_ids_deleted=cmd_del,
        fill_refs_put=fill_put,
        fill_refs_deleted=fill_del,
    )
