"""Which policy numbers an arena accepts (``INVALID_POLICY`` otherwise).

The bounds are defined in ``schemas.policies`` (they are published in the JSON Schema). They keep
every derived quantity exact and an arena's state bounded: agent counts and window sizes are capped
so that one arena cannot demand unbounded memory.
"""

from __future__ import annotations

from schemas.fields import TIERS
from schemas.money import MAX_MINOR
from schemas.policies import (
    BPS,
    MAX_AGENTS_PER_TIER,
    MAX_MUTATION_STEP,
    MAX_RECORDS,
    MAX_WINDOW,
    EvolutionPolicy,
    TierPolicies,
    TierPolicy,
)


def _out(name: str, value: int, low: int, high: int) -> str | None:
    if low <= value <= high:
        return None
    return f"{name}={value if abs(value) < 10**30 else '<huge>'} must be within [{low}, {high}]"


def _tier_problem(name: str, tier: TierPolicy) -> str | None:
    return (
        _out(f"tier_policy.{name}.max_agents", tier.max_agents, 1, MAX_AGENTS_PER_TIER)
        or _out(f"tier_policy.{name}.max_allocation", tier.max_allocation, 1, MAX_MINOR)
        or _out(f"tier_policy.{name}.budget_bps", tier.budget_bps, 0, BPS)
    )


def policy_problem(tiers: TierPolicies, evolution: EvolutionPolicy) -> str | None:
    """The first thing wrong with a pair of policies, or None."""
    for name in TIERS:
        problem = _tier_problem(name, getattr(tiers, name))
        if problem:
            return problem
    budget = tiers.incubator.budget_bps + tiers.proving.budget_bps + tiers.arena.budget_bps
    if budget > BPS:
        return f"tier_policy budget_bps values sum to {budget}, at most {BPS} allowed"
    capacity = tiers.incubator.max_agents + tiers.proving.max_agents + tiers.arena.max_agents
    e = evolution
    return (
        _out("evolution_policy.min_records", e.min_records, 1, MAX_RECORDS)
        or _out("evolution_policy.kill_bottom_bps", e.kill_bottom_bps, 0, BPS)
        or _out("evolution_policy.max_drawdown_bps", e.max_drawdown_bps, 0, MAX_MINOR)
        or _out("evolution_policy.to_proving.min_records", e.to_proving.min_records, 1, MAX_RECORDS)
        or _out("evolution_policy.to_proving.min_return_bps", e.to_proving.min_return_bps, -MAX_MINOR, MAX_MINOR)
        or _out("evolution_policy.to_arena.min_records", e.to_arena.min_records, 1, MAX_RECORDS)
        or _out("evolution_policy.to_arena.min_return_bps", e.to_arena.min_return_bps, -MAX_MINOR, MAX_MINOR)
        or _out("evolution_policy.target_population", e.target_population, 0, capacity)
        or _out("evolution_policy.mutation_step", e.mutation_step, 0, MAX_MUTATION_STEP)
        or _out("evolution_policy.command_id_window", e.command_id_window, 1, MAX_WINDOW)
        or _out("evolution_policy.fill_ref_window", e.fill_ref_window, 1, MAX_WINDOW)
    )
