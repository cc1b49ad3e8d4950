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


def _pnl(state: ArenaState, p: PnLRecorded) -> ArenaState:
    agent = state.agents[p.agent_id]
    pnl_total = agent.pnl_total + p.amount
    peak = max(agent.pnl_peak, pnl_total)
    agent = replace(
        agent,
        balance=agent.balance + p.amount,
        pnl_total=pnl_total,
        pnl_records=agent.pnl_records + 1,
        pnl_peak=peak,
        max_drawdown=max(agent.max_drawdown, peak - pnl_total),
    )
    return replace(
        state,
        agents=state.agents.set(agent.agent_id, agent),
        agents_total=state.agents_total + p.amount,
        pnl_total=state.pnl_total + p.amount,
        fill_refs=state.fill_refs.add(p.fill_ref) if p.fill_ref is not None else state.fill_refs,
    )


def _allocated(state: ArenaState, p: CapitalAllocated) -> ArenaState:
    amount = p.amount.amount
    agent = state.agents[p.agent_id]
    agent = replace(agent, balance=agent.balance + amount, allocated_total=agent.allocated_total + amount)
    return replace(
        state,
        agents=state.agents.set(agent.agent_id, agent),
        treasury=state.treasury - amount,
        agents_total=state.agents_total + amount,
    )


def _released(state: ArenaState, p: CapitalReleased) -> ArenaState:
    amount = p.amount.amount
    agent = state.agents[p.agent_id]
    agent = replace(agent, balance=agent.balance - amount)
    return replace(
        state,
        agents=state.agents.set(agent.agent_id, agent),
        treasury=state.treasury + amount,
        agents_total=state.agents_total - amount,
    )


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
