"""``decide``: the business rules, the only place a command is judged.

``decide(state, command)`` returns the payloads a command produces, or a ``Rejection``. It is pure:
no clock, no I/O, no randomness except seeds carried in commands. The stream processor, replay,
simulation expectations and tests all call it; there is no second copy of these rules.

Order of checks (the first failing one is reported): arena existence, then the request itself
(currency, amount range), then the agent, then capacity and balances. A few choices worth knowing:

* A capital movement of 0 (fund, withdraw, allocate, release) is ``AMOUNT_OUT_OF_RANGE``: it would
  produce an event without postings that only adds noise. A PnL of 0 is accepted: a flat day is a
  real record and counts toward ``min_records``.
* Every balance and every cumulative total (funded, withdrawn, an agent's gross allocation, the
  arena's capital) must stay within ``MAX_MINOR``; PnL totals within +-``MAX_MINOR``. Anything that
  would leave that range is ``AMOUNT_OUT_OF_RANGE``, so every amount in every event stays exact.
* ``DUPLICATE_FILL`` is checked right after the arena exists: a fill that was already recorded is
  reported as such even if the agent has died since.
* Agent ids are never reused, not even those of killed agents (``AGENT_EXISTS``). An unknown agent
  (or MutateAgent parent) is ``AGENT_NOT_FOUND``; a killed one ``AGENT_NOT_ALIVE`` (``PARENT_NOT_ALIVE``).
* SpawnAgent may place an agent directly in any tier (seeding an arena with known strategies);
  ``TIER_FULL`` counts the alive agents of that tier.
* Graduation moves an agent's existing capital into the new tier's capital; the next evolution
  cycle's rebalance resizes it to the new tier's budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from schemas.commands import (
    AllocateCapital,
    Command,
    CreateArena,
    FundArena,
    GraduateAgent,
    KillAgent,
    MutateAgent,
    RecordPnL,
    ReleaseCapital,
    RunEvolutionCycle,
    SpawnAgent,
    WithdrawFunds,
)
from schemas.events import (
    AgentGraduated,
    AgentKilled,
    AgentMutated,
    AgentSpawned,
    AnyPayload,
    ArenaCreated,
    ArenaFunded,
    CapitalAllocated,
    CapitalReleased,
    FundsWithdrawn,
    PnLRecorded,
)
from schemas.money import MAX_MINOR, Money, RequestedMoney, SignedMoney
from schemas.rejections import Reason
from streams.domain.evolution import run_cycle
from streams.domain.fitness import fitness_of
from streams.domain.genome import genome_problem, mutate_genome
from streams.domain.policy import policy_problem
from streams.domain.rejection import Rejection, show
from streams.domain.state import AgentState, ArenaState, tier_after

Decision = list[AnyPayload] | Rejection


def _money(state: ArenaState, amount: int) -> Money:
    return Money(amount=amount, currency=state.currency)


def _currency_problem(state: ArenaState, currency: str, agent_id: str | None = None) -> Rejection | None:
    if currency == state.currency:
        return None
    return Rejection(
        Reason.CURRENCY_MISMATCH,
        f"arena {state.arena_id} keeps its books in {state.currency}, not {currency}",
        agent_id=agent_id,
    )


def _movement_problem(state: ArenaState, money: RequestedMoney, agent_id: str | None = None) -> Rejection | None:
    """Currency and range of a capital movement (must be 1..MAX_MINOR)."""
    problem = _currency_problem(state, money.currency, agent_id)
    if problem:
        return problem
    if not 1 <= money.amount <= MAX_MINOR:
        return Rejection(
            Reason.AMOUNT_OUT_OF_RANGE,
            f"amount {show(money.amount)} must be within [1, {MAX_MINOR}] minor units",
            agent_id=agent_id,
            requested=money.amount,
        )
    return None


def _overflow(what: str, value: int, agent_id: str | None = None, requested: int | None = None) -> Rejection:
    return Rejection(
        Reason.AMOUNT_OUT_OF_RANGE,
        f"{what} would become {show(value)}, above the limit of {MAX_MINOR} minor units",
        agent_id=agent_id,
        requested=requested,
    )


def _agent_problem(state: ArenaState, agent_id: str, requested: int | None = None) -> AgentState | Rejection:
    agent = state.agents.get(agent_id)
    if agent is None:
        return Rejection(Reason.AGENT_NOT_FOUND, f"no agent {agent_id} in arena {state.arena_id}", agent_id, requested)
    if not agent.alive:
        return Rejection(Reason.AGENT_NOT_ALIVE, f"agent {agent_id} was killed", agent_id, requested)
    return agent


def _create(state: ArenaState, c: CreateArena) -> Decision:
    if state.exists:
        return Rejection(Reason.ARENA_EXISTS, f"arena {state.arena_id} already exists")
    problem = policy_problem(c.tier_policy, c.evolution_policy)
    if problem:
        return Rejection(Reason.INVALID_POLICY, problem)
    return [
        ArenaCreated(currency=c.currency, tier_policy=c.tier_policy, evolution_policy=c.evolution_policy, seed=c.seed)
    ]


def _fund(state: ArenaState, c: FundArena) -> Decision:
    problem = _movement_problem(state, c.amount)
    if problem:
        return problem
    amount = c.amount.amount
    capital = state.treasury + state.agents_total + amount
    if capital > MAX_MINOR:
        return _overflow("the arena's capital", capital)
    if state.funded_total + amount > MAX_MINOR:
        return _overflow("the arena's funded total", state.funded_total + amount)
    return [ArenaFunded(amount=_money(state, amount))]


def _withdraw(state: ArenaState, c: WithdrawFunds) -> Decision:
    problem = _movement_problem(state, c.amount)
    if problem:
        return problem
    amount = c.amount.amount
    if amount > state.treasury:
        return Rejection(
            Reason.INSUFFICIENT_TREASURY,
            f"treasury holds {state.treasury}, cannot withdraw {amount}; release agent capital first",
        )
    if state.withdrawn_total + amount > MAX_MINOR:
        return _overflow("the arena's withdrawn total", state.withdrawn_total + amount)
    return [FundsWithdrawn(amount=_money(state, amount))]


def _spawn(state: ArenaState, c: SpawnAgent) -> Decision:
    if c.agent_id in state.agents:
        return Rejection(Reason.AGENT_EXISTS, f"agent id {c.agent_id} is taken (ids are never reused)", c.agent_id)
    problem = genome_problem(c.genome)
    if problem:
        return Rejection(Reason.INVALID_GENOME, problem, c.agent_id)
    limit = state.tier_limits(c.tier).max_agents
    if state.tier_counts.of(c.tier) >= limit:
        return Rejection(Reason.TIER_FULL, f"tier {c.tier} already has its {limit} alive agents", c.agent_id)
    return [AgentSpawned(agent_id=c.agent_id, tier=c.tier, genome=dict(c.genome), parent_id=None, generation=0)]


def _allocate(state: ArenaState, c: AllocateCapital) -> Decision:
    problem = _movement_problem(state, c.amount, c.agent_id)
    if problem:
        return problem
    amount = c.amount.amount
    agent = _agent_problem(state, c.agent_id, amount)
    if isinstance(agent, Rejection):
        return agent
    if amount > state.treasury:
        return Rejection(
            Reason.INSUFFICIENT_TREASURY,
            f"treasury holds {state.treasury}, cannot allocate {amount} to {c.agent_id}",
            c.agent_id,
            amount,
        )
    limit = state.tier_limits(agent.tier).max_allocation
    if agent.balance + amount > limit:
        return Rejection(
            Reason.OVER_TIER_LIMIT,
            f"agent {c.agent_id} would hold {agent.balance + amount}, above the {agent.tier} limit of {limit}",
            c.agent_id,
            amount,
        )
    if agent.allocated_total + amount > MAX_MINOR:
        return _overflow(f"agent {c.agent_id}'s gross allocation", agent.allocated_total + amount, c.agent_id, amount)
    return [CapitalAllocated(agent_id=c.agent_id, amount=_money(state, amount))]


def _release(state: ArenaState, c: ReleaseCapital) -> Decision:
    problem = _movement_problem(state, c.amount, c.agent_id)
    if problem:
        return problem
    amount = c.amount.amount
    agent = _agent_problem(state, c.agent_id, amount)
    if isinstance(agent, Rejection):
        return agent
    if amount > agent.balance:
        return Rejection(
            Reason.INSUFFICIENT_AGENT_BALANCE,
            f"agent {c.agent_id} holds {agent.balance}, cannot release {amount}",
            c.agent_id,
            amount,
        )
    return [CapitalReleased(agent_id=c.agent_id, amount=_money(state, amount))]


def _record_pnl(state: ArenaState, c: RecordPnL) -> Decision:
    if c.fill_ref is not None and c.fill_ref in state.fill_refs:
        return Rejection(Reason.DUPLICATE_FILL, f"fill {c.fill_ref} is already recorded", c.agent_id)
    problem = _currency_problem(state, c.amount.currency, c.agent_id)
    if problem:
        return problem
    agent = _agent_problem(state, c.agent_id)
    if isinstance(agent, Rejection):
        return agent
    amount = c.amount.amount
    if abs(amount) > MAX_MINOR:
        return Rejection(
            Reason.AMOUNT_OUT_OF_RANGE,
            f"PnL {show(amount)} must be within +-{MAX_MINOR} minor units",
            c.agent_id,
        )
    if -amount > agent.balance:
        return Rejection(
            Reason.LOSS_EXCEEDS_BALANCE,
            f"loss of {-amount} exceeds agent {c.agent_id}'s balance of {agent.balance}",
            c.agent_id,
        )
    capital = state.treasury + state.agents_total + amount
    if capital > MAX_MINOR:
        return _overflow("the arena's capital", capital, c.agent_id)
    for what, total in (
        ("the arena's PnL total", state.pnl_total),
        (f"agent {c.agent_id}'s PnL total", agent.pnl_total),
    ):
        if abs(total + amount) > MAX_MINOR:
            return _overflow(what, total + amount, c.agent_id)
    return [
        PnLRecorded(
            agent_id=c.agent_id,
            amount=SignedMoney(amount=amount, currency=state.currency),
            period=c.period,
            source=c.source,
            fill_ref=c.fill_ref,
        )
    ]


def _kill(state: ArenaState, c: KillAgent) -> Decision:
    agent = _agent_problem(state, c.agent_id)
    if isinstance(agent, Rejection):
        return agent
    return [AgentKilled(agent_id=c.agent_id, tier=agent.tier, reason=c.reason, returned=_money(state, agent.balance))]


def _graduate(state: ArenaState, c: GraduateAgent) -> Decision:
    agent = _agent_problem(state, c.agent_id)
    if isinstance(agent, Rejection):
        return agent
    to_tier = tier_after(agent.tier)
    if to_tier is None:
        return Rejection(Reason.NOT_ELIGIBLE, f"agent {c.agent_id} is already in the last tier", c.agent_id)
    policy = state.evolution_policy
    threshold = policy.to_proving if to_tier == "proving" else policy.to_arena
    fitness = fitness_of(agent)
    if fitness.records < threshold.min_records or fitness.return_bps < threshold.min_return_bps:
        return Rejection(
            Reason.NOT_ELIGIBLE,
            f"agent {c.agent_id} has {fitness.records} records and {fitness.return_bps} bps return; "
            f"{to_tier} needs {threshold.min_records} records and {threshold.min_return_bps} bps",
            c.agent_id,
        )
    limit = state.tier_limits(to_tier).max_agents
    if state.tier_counts.of(to_tier) >= limit:
        return Rejection(Reason.TIER_FULL, f"tier {to_tier} already has its {limit} alive agents", c.agent_id)
    return [AgentGraduated(agent_id=c.agent_id, from_tier=agent.tier, to_tier=to_tier)]


def _mutate(state: ArenaState, c: MutateAgent) -> Decision:
    parent = state.agents.get(c.parent_id)
    if parent is None:
        return Rejection(Reason.AGENT_NOT_FOUND, f"no parent {c.parent_id} in arena {state.arena_id}", c.child_id)
    if not parent.alive:
        return Rejection(Reason.PARENT_NOT_ALIVE, f"parent {c.parent_id} was killed", c.child_id)
    if c.child_id in state.agents:
        return Rejection(Reason.AGENT_EXISTS, f"agent id {c.child_id} is taken (ids are never reused)", c.child_id)
    genome = mutate_genome(parent.genome, c.seed, state.evolution_policy.mutation_step, c.genome_delta)
    problem = genome_problem(genome)
    if problem:
        return Rejection(Reason.INVALID_GENOME, f"child genome: {problem}", c.child_id)
    limit = state.tier_limits("incubator").max_agents
    if state.tier_counts.incubator >= limit:
        return Rejection(Reason.TIER_FULL, f"tier incubator already has its {limit} alive agents", c.child_id)
    return [
        AgentMutated(parent_id=parent.agent_id, child_id=c.child_id, genome=genome, seed=c.seed),
        AgentSpawned(
            agent_id=c.child_id,
            tier="incubator",
            genome=dict(genome),
            parent_id=parent.agent_id,
            generation=parent.generation + 1,
        ),
    ]


def _cycle(state: ArenaState, c: RunEvolutionCycle) -> Decision:
    if c.cycle <= state.last_cycle:
        return Rejection(
            Reason.CYCLE_OUT_OF_ORDER, f"cycle {c.cycle} is not after the last completed cycle {state.last_cycle}"
        )
    return run_cycle(state, c.cycle)


_RULES: Final[dict[str, Callable[[ArenaState, Any], Decision]]] = {
    "FundArena": _fund,
    "WithdrawFunds": _withdraw,
    "SpawnAgent": _spawn,
    "AllocateCapital": _allocate,
    "ReleaseCapital": _release,
    "RecordPnL": _record_pnl,
    "KillAgent": _kill,
    "GraduateAgent": _graduate,
    "MutateAgent": _mutate,
    "RunEvolutionCycle": _cycle,
}


def decide(state: ArenaState, command: Command) -> Decision:
    """The payloads ``command`` produces against ``state``, or why it is refused."""
    if isinstance(command, CreateArena):
        return _create(state, command)
    if not state.exists:
        agent_id = getattr(command, "agent_id", None)
        return Rejection(Reason.ARENA_NOT_FOUND, f"arena {state.arena_id} does not exist", agent_id)
    return _RULES[command.type](state, command)
