"""One evolution cycle: judge, cull, promote, refill, rebalance, then account for it.

Each step is planned against the state the previous steps produced: every payload is applied with
the same ``apply_payload`` that ``evolve`` uses before the next one is decided, so the events a cycle
emits are exactly consistent with replaying them.

Steps:
 1. Judge: alive agents with at least ``min_records`` PnL records get a fitness (``fitness.py``).
 2. Cull: judged agents above ``max_drawdown_bps`` and the bottom ``kill_bottom_bps`` of the judged
    (rounded down) are killed, worst first; their capital returns to the treasury.
 3. Promote: surviving judged agents meeting a threshold move up one tier, best first, while the
    target tier has room. proving->arena runs first so it frees proving seats for incubator->proving;
    no agent moves two tiers in one cycle.
 4. Refill: toward ``target_population`` by mutating the best survivors (all alive agents when
    nobody was judged yet) round-robin, while the incubator has room. Child ids are ``c{cycle}-{k}``
    (ids that exist are skipped); child seeds derive from the arena seed, cycle and k.
 5. Rebalance: each tier's budget is ``budget_bps`` of the arena's capital (treasury + agents),
    split equally over its alive agents and capped by ``max_allocation``. Over-target agents release
    first, then under-target agents are topped up from the treasury, in tier then id order. Budgets
    sum to at most 100 %, so the treasury always covers the top-ups.
 6. ``CapitalConservationCheck`` with the totals, then ``EvolutionCycleComplete`` with the counts.

Cost is O(n log n) in the arena's agents; this is the one command that scans them all.
"""

from __future__ import annotations

from schemas.events import (
    AgentGraduated,
    AgentKilled,
    AgentMutated,
    AgentSpawned,
    AnyPayload,
    CapitalAllocated,
    CapitalConservationCheck,
    CapitalReleased,
    EvolutionCycleComplete,
    TierCapital,
)
from schemas.fields import TIERS, Tier
from schemas.money import MAX_MINOR, Money
from schemas.policies import GraduationThreshold
from streams.domain.apply import apply_payload
from streams.domain.fitness import BPS, Fitness, best_first, fitness_of, worst_first
from streams.domain.genome import derive_seed, mutate_genome
from streams.domain.state import ArenaState


class _Plan:
    """Accumulates a cycle's payloads while keeping the state they lead to."""

    def __init__(self, state: ArenaState) -> None:
        self.state = state
        self.seq = state.last_seq
        self.payloads: list[AnyPayload] = []

    def emit(self, payload: AnyPayload) -> None:
        self.seq += 1
        self.state = apply_payload(self.state, payload, self.seq)
        self.payloads.append(payload)

    def money(self, amount: int) -> Money:
        return Money(amount=amount, currency=self.state.currency)


def _eligible(fitness: Fitness, threshold: GraduationThreshold) -> bool:
    return fitness.records >= threshold.min_records and fitness.return_bps >= threshold.min_return_bps


def _cull(plan: _Plan, cycle: int, judged: list[Fitness]) -> set[str]:
    policy = plan.state.evolution_policy
    doomed: dict[str, str] = {f.agent_id: "drawdown" for f in judged if f.drawdown_bps > policy.max_drawdown_bps}
    for f in judged[: len(judged) * policy.kill_bottom_bps // BPS]:
        doomed.setdefault(f.agent_id, "bottom fitness")
    for f in judged:
        if f.agent_id in doomed:
            agent = plan.state.agents[f.agent_id]
            plan.emit(
                AgentKilled(
                    agent_id=agent.agent_id,
                    tier=agent.tier,
                    reason=f"evolution cycle {cycle}: {doomed[f.agent_id]}",
                    returned=plan.money(agent.balance),
                )
            )
    return set(doomed)


def _promote(plan: _Plan, ranked: list[Fitness]) -> int:
    policy = plan.state.evolution_policy
    steps: tuple[tuple[Tier, Tier, GraduationThreshold], ...] = (
        ("proving", "arena", policy.to_arena),
        ("incubator", "proving", policy.to_proving),
    )
    promoted = 0
    for from_tier, to_tier, threshold in steps:
        room = plan.state.tier_limits(to_tier).max_agents - plan.state.tier_counts.of(to_tier)
        for f in ranked:
            if room <= 0:
                break
            if plan.state.agents[f.agent_id].tier == from_tier and _eligible(f, threshold):
                plan.emit(AgentGraduated(agent_id=f.agent_id, from_tier=from_tier, to_tier=to_tier))
                promoted += 1
                room -= 1
    return promoted


def _refill(plan: _Plan, cycle: int, ranked: list[Fitness]) -> int:
    state = plan.state
    need = state.evolution_policy.target_population - state.tier_counts.alive
    parents = [f.agent_id for f in ranked] or [
        f.agent_id for f in best_first([fitness_of(a) for a in state.alive_agents()])
    ]
    room = state.tier_limits("incubator").max_agents - state.tier_counts.incubator
    spawned = 0
    k = 0
    while spawned < min(need, room) and parents:
        child_id = f"c{cycle}-{k}"
        if child_id not in plan.state.agents:
            parent = plan.state.agents[parents[spawned % len(parents)]]
            seed = derive_seed(plan.state.seed, cycle, k)
            genome = mutate_genome(parent.genome, seed, plan.state.evolution_policy.mutation_step)
            plan.emit(AgentMutated(parent_id=parent.agent_id, child_id=child_id, genome=genome, seed=seed))
            plan.emit(
                AgentSpawned(
                    agent_id=child_id,
                    tier="incubator",
                    genome=dict(genome),
                    parent_id=parent.agent_id,
                    generation=parent.generation + 1,
                )
            )
            spawned += 1
        k += 1
    return spawned


def _rebalance(plan: _Plan) -> tuple[int, int]:
    state = plan.state
    capital = state.treasury + state.agents_total
    members: dict[Tier, list[str]] = {tier: [] for tier in TIERS}
    for agent in state.alive_agents():
        members[agent.tier].append(agent.agent_id)
    targets: list[tuple[str, int]] = []
    for tier in TIERS:
        if members[tier]:
            limits = state.tier_limits(tier)
            share = min(capital * limits.budget_bps // BPS // len(members[tier]), limits.max_allocation)
            targets.extend((agent_id, share) for agent_id in members[tier])
    released = allocated = 0
    for agent_id, target in targets:
        balance = plan.state.agents[agent_id].balance
        if balance > target:
            plan.emit(CapitalReleased(agent_id=agent_id, amount=plan.money(balance - target)))
            released += 1
    for agent_id, target in targets:
        agent = plan.state.agents[agent_id]
        amount = min(target - agent.balance, plan.state.treasury, MAX_MINOR - agent.allocated_total)
        if amount > 0:
            plan.emit(CapitalAllocated(agent_id=agent_id, amount=plan.money(amount)))
            allocated += 1
    return released, allocated


def conservation_check(state: ArenaState) -> CapitalConservationCheck:
    """The totals a ``CapitalConservationCheck`` reports for ``state`` (O(n): sums per tier)."""
    per_tier: dict[Tier, int] = dict.fromkeys(TIERS, 0)
    for agent in state.agents.values():
        if agent.alive:
            per_tier[agent.tier] += agent.balance
    return CapitalConservationCheck(
        treasury=state.treasury,
        agents_total=state.agents_total,
        funded=state.funded_total,
        withdrawn=state.withdrawn_total,
        pnl=state.pnl_total,
        tier_capital=TierCapital(incubator=per_tier["incubator"], proving=per_tier["proving"], arena=per_tier["arena"]),
    )


def run_cycle(state: ArenaState, cycle: int) -> list[AnyPayload]:
    """The payloads of evolution cycle ``cycle`` (ordering was checked by ``decide``)."""
    plan = _Plan(state)
    min_records = state.evolution_policy.min_records
    judged = worst_first([fitness_of(a) for a in state.alive_agents() if a.pnl_records >= min_records])
    doomed = _cull(plan, cycle, judged)
    ranked = best_first([f for f in judged if f.agent_id not in doomed])
    graduated = _promote(plan, ranked)
    spawned = _refill(plan, cycle, ranked)
    released, allocated = _rebalance(plan)
    plan.emit(conservation_check(plan.state))
    plan.emit(
        EvolutionCycleComplete(
            cycle=cycle,
            judged=len(judged),
            killed=len(doomed),
            graduated=graduated,
            spawned=spawned,
            released=released,
            allocated=allocated,
            population=plan.state.tier_counts.alive,
        )
    )
    return plan.payloads
