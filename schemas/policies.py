"""Arena policies carried by ``CreateArena`` and recorded in ``ArenaCreated``.

Only types are checked here. Whether the numbers make sense (positive limits, basis points within
0..10000, tier budgets summing to at most 10000, ...) is decided by the pure core, which answers a
bad policy with an ``INVALID_POLICY`` rejection event rather than a dead letter.

Basis points (bps) are integer hundredths of a percent: 10000 bps = 100 %. Amounts are minor units.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt


class TierPolicy(BaseModel):
    """Limits of one tier."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    max_agents: StrictInt
    max_allocation: StrictInt
    budget_bps: StrictInt


class TierPolicies(BaseModel):
    """One policy per tier; the defaults keep a 10 % treasury reserve at rebalance."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    incubator: TierPolicy = Field(
        default_factory=lambda: TierPolicy(max_agents=200, max_allocation=1_000_000, budget_bps=2_000)
    )
    proving: TierPolicy = Field(
        default_factory=lambda: TierPolicy(max_agents=50, max_allocation=5_000_000, budget_bps=3_000)
    )
    arena: TierPolicy = Field(
        default_factory=lambda: TierPolicy(max_agents=20, max_allocation=25_000_000, budget_bps=4_000)
    )


class GraduationThreshold(BaseModel):
    """What an agent must show to move up one tier."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    min_records: StrictInt
    min_return_bps: StrictInt


class EvolutionPolicy(BaseModel):
    """How a cycle judges, culls, promotes and refills the population.

    The dedup window sizes live here because they are per-arena settings fixed at creation; they bound
    the memory an arena's state can take (see ``streams.domain.window``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    min_records: StrictInt = 5
    kill_bottom_bps: StrictInt = 1_000
    max_drawdown_bps: StrictInt = 2_500
    to_proving: GraduationThreshold = Field(
        default_factory=lambda: GraduationThreshold(min_records=10, min_return_bps=200)
    )
    to_arena: GraduationThreshold = Field(
        default_factory=lambda: GraduationThreshold(min_records=30, min_return_bps=500)
    )
    target_population: StrictInt = 100
    mutation_step: StrictInt = 1_000
    command_id_window: StrictInt = 10_000
    fill_ref_window: StrictInt = 100_000
