"""What each payload does to the state: the single transition function.

``evolve`` calls it for every enveloped event, and ``decide`` calls it while planning an evolution
cycle, so a cycle's later steps see exactly the state its earlier events produce.

It trusts the payload (``decide`` already judged it) and does no validation; arithmetic follows the
payload literally (a kill subtracts ``returned`` rather than zeroing the balance) so that a wrong
payload shows up in the conservation check instead of being silently repaired.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel

from schemas.events import (
    AgentGraduated,
    AgentKilled,
    AgentSpawned,
    ArenaCreated,
    ArenaFunded,
    CapitalAllocated,
    CapitalReleased,
    EvolutionCycleComplete,
    FundsWithdrawn,
    PnLRecorded,
)
from streams.domain.state import AgentState, ArenaState
from streams.domain.window import Window


def _agent_moved(agent: AgentState, balance: int, allocated_total: int) -> AgentState:
    a = agent
    return AgentState(
        agent_id=a.agent_id,
        tier=a.tier,
        alive=a.alive,
        parent_id=a.parent_id,
        generation=a.generation,
        genome=a.genome,
        born_seq=a.born_seq,
        balance=balance,
        allocated_total=allocated_total,
        pnl_total=a.pnl_total,
        pnl_records=a.pnl_records,
        pnl_peak=a.pnl_peak,
        max_drawdown=a.max_drawdown,
    )


def _money_moved(state: ArenaState, agent: AgentState, treasury: int, pnl_total: int, fill_refs: Window) -> ArenaState:
    """``state`` with ``agent`` replaced and capital moved (written out: the hot path of every
    allocation, release and PnL record; ``dataclasses.replace`` costs twice as much)."""
    s = state
    return ArenaState(
        arena_id=s.arena_id,
        exists=s.exists,
        currency=s.currency,
        tier_policy=s.tier_policy,
        evolution_policy=s.evolution_policy,
        seed=s.seed,
        treasury=treasury,
        agents_total=s.agents_total + (agent.balance - s.agents[agent.agent_id].balance),
        funded_total=s.funded_total,
        withdrawn_total=s.withdrawn_total,
        pnl_total=pnl_total,
        tier_counts=s.tier_counts,
        last_seq=s.last_seq,
        last_hash=s.last_hash,
        last_cycle=s.last_cycle,
        agents=s.agents.set(agent.agent_id, agent),
        command_ids=s.command_ids,
        fill_refs=fill_refs,
    )


def _pnl(state: ArenaState, p: PnLRecorded) -> ArenaState:
    a = state.agents[p.agent_id]
    amount = p.amount.amount
    pnl_total = a.pnl_total + amount
    peak = max(a.pnl_peak, pnl_total)
    agent = AgentState(
        agent_id=a.agent_id,
        tier=a.tier,
        alive=a.alive,
        parent_id=a.parent_id,
        generation=a.generation,
        genome=a.genome,
        born_seq=a.born_seq,
        balance=a.balance + amount,
        allocated_total=a.allocated_total,
        pnl_total=pnl_total,
        pnl_records=a.pnl_records + 1,
        pnl_peak=peak,
        max_drawdown=max(a.max_drawdown, peak - pnl_total),
    )
    fill_refs = state.fill_refs.add(p.fill_ref) if p.fill_ref is not None else state.fill_refs
    return _money_moved(state, agent, state.treasury, state.pnl_total + amount, fill_refs)


def _allocated(state: ArenaState, p: CapitalAllocated) -> ArenaState:
    amount = p.amount.amount
    a = state.agents[p.agent_id]
    agent = _agent_moved(a, a.balance + amount, a.allocated_total + amount)
    return _money_moved(state, agent, state.treasury - amount, state.pnl_total, state.fill_refs)


def _released(state: ArenaState, p: CapitalReleased) -> ArenaState:
    amount = p.amount.amount
    a = state.agents[p.agent_id]
    agent = _agent_moved(a, a.balance - amount, a.allocated_total)
    return _money_moved(state, agent, state.treasury + amount, state.pnl_total, state.fill_refs)


def _killed(state: ArenaState, p: AgentKilled) -> ArenaState:
    amount = p.returned.amount
    agent = state.agents[p.agent_id]
    agent = replace(agent, alive=False, balance=agent.balance - amount)
    return replace(
        state,
        agents=state.agents.set(agent.agent_id, agent),
        treasury=state.treasury + amount,
        agents_total=state.agents_total - amount,
        tier_counts=state.tier_counts.bumped(agent.tier, -1),
    )


def _spawned(state: ArenaState, p: AgentSpawned, seq: int) -> ArenaState:
    agent = AgentState(
        agent_id=p.agent_id,
        tier=p.tier,
        alive=True,
        parent_id=p.parent_id,
        generation=p.generation,
        genome=dict(p.genome),
        born_seq=seq,
    )
    return replace(
        state,
        agents=state.agents.set(agent.agent_id, agent),
        tier_counts=state.tier_counts.bumped(p.tier, 1),
    )


def _graduated(state: ArenaState, p: AgentGraduated) -> ArenaState:
    agent = replace(state.agents[p.agent_id], tier=p.to_tier)
    return replace(
        state,
        agents=state.agents.set(agent.agent_id, agent),
        tier_counts=state.tier_counts.bumped(p.from_tier, -1).bumped(p.to_tier, 1),
    )


def _created(state: ArenaState, p: ArenaCreated) -> ArenaState:
    return replace(
        state,
        exists=True,
        currency=p.currency,
        tier_policy=p.tier_policy,
        evolution_policy=p.evolution_policy,
        seed=p.seed,
        command_ids=state.command_ids.resized(p.evolution_policy.command_id_window),
        fill_refs=state.fill_refs.resized(p.evolution_policy.fill_ref_window),
    )


def apply_payload(state: ArenaState, payload: BaseModel, seq: int) -> ArenaState:
    """The state after ``payload``; ``seq`` is the seq of the event carrying it (for ``born_seq``)."""
    if isinstance(payload, PnLRecorded):
        return _pnl(state, payload)
    if isinstance(payload, CapitalAllocated):
        return _allocated(state, payload)
    if isinstance(payload, CapitalReleased):
        return _released(state, payload)
    if isinstance(payload, AgentKilled):
        return _killed(state, payload)
    if isinstance(payload, AgentSpawned):
        return _spawned(state, payload, seq)
    if isinstance(payload, AgentGraduated):
        return _graduated(state, payload)
    if isinstance(payload, ArenaFunded):
        amount = payload.amount.amount
        return replace(state, treasury=state.treasury + amount, funded_total=state.funded_total + amount)
    if isinstance(payload, FundsWithdrawn):
        amount = payload.amount.amount
        return replace(state, treasury=state.treasury - amount, withdrawn_total=state.withdrawn_total + amount)
    if isinstance(payload, EvolutionCycleComplete):
        return replace(state, last_cycle=payload.cycle)
    if isinstance(payload, ArenaCreated):
        return _created(state, payload)
    # AgentMutated (lineage only; the child arrives in AgentSpawned), CapitalConservationCheck and
    # the rejections change nothing but the envelope bookkeeping that evolve does.
    return state
