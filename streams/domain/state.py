"""The state ``evolve`` folds events into: a small arena header plus one row per agent.

Everything is immutable (frozen dataclasses, ``immutables.Map``), so ``evolve`` is a pure function
and a command touches O(log n) of the structure: the per-agent map is a HAMT, the header keeps running
totals (``agents_total``, ``tier_counts``) that would otherwise need a scan over all agents.

Agents are never removed: a killed agent stays (``alive=False``, balance 0) so its id is never reused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from immutables import Map

from schemas.events import GENESIS_HASH
from schemas.fields import TIERS, Tier
from schemas.policies import EvolutionPolicy, TierPolicies, TierPolicy
from streams.domain.window import Window

DEFAULT_TIER_POLICIES: Final = TierPolicies()
DEFAULT_EVOLUTION_POLICY: Final = EvolutionPolicy()
_NO_COMMAND_IDS: Final = Window(DEFAULT_EVOLUTION_POLICY.command_id_window)
_NO_FILL_REFS: Final = Window(DEFAULT_EVOLUTION_POLICY.fill_ref_window)


@dataclass(frozen=True, slots=True)
class TierCounts:
    """Alive agents per tier, kept current so TIER_FULL is O(1)."""

    incubator: int = 0
    proving: int = 0
    arena: int = 0

    def of(self, tier: Tier) -> int:
        return int(getattr(self, tier))

    def bumped(self, tier: Tier, delta: int) -> TierCounts:
        counts = {"incubator": self.incubator, "proving": self.proving, "arena": self.arena}
        counts[tier] += delta
        return TierCounts(**counts)

    @property
    def alive(self) -> int:
        return self.incubator + self.proving + self.arena


@dataclass(frozen=True, slots=True)
class AgentState:
    """One agent's row. Drawdown is tracked on the cumulative PnL curve: ``pnl_peak`` is its
    highest point so far (starting at 0) and ``max_drawdown`` the deepest fall from a peak."""

    agent_id: str
    tier: Tier
    alive: bool
    parent_id: str | None
    generation: int
    genome: Mapping[str, int]
    born_seq: int
    balance: int = 0
    allocated_total: int = 0
    pnl_total: int = 0
    pnl_records: int = 0
    pnl_peak: int = 0
    max_drawdown: int = 0


@dataclass(frozen=True, slots=True)
class ArenaState:
    """The arena header and its agents.

    ``treasury + agents_total == funded_total - withdrawn_total + pnl_total`` holds after every event;
    ``agents_total`` is the sum of alive agents' balances (killed agents hold nothing). ``exists`` says
    whether the arena was created; ``on_record`` whether it has any event at all.
    """

    arena_id: str
    exists: bool = False
    currency: str = ""
    tier_policy: TierPolicies = DEFAULT_TIER_POLICIES
    evolution_policy: EvolutionPolicy = DEFAULT_EVOLUTION_POLICY
    seed: int = 0
    treasury: int = 0
    agents_total: int = 0
    funded_total: int = 0
    withdrawn_total: int = 0
    pnl_total: int = 0
    tier_counts: TierCounts = TierCounts()
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    last_cycle: int = 0
    agents: Map[str, AgentState] = field(default_factory=Map)
    command_ids: Window = _NO_COMMAND_IDS
    fill_refs: Window = _NO_FILL_REFS

    @property
    def on_record(self) -> bool:
        """True once the arena has an event, created or not.

        A command to an arena nobody created is refused with ``ARENA_NOT_FOUND``, and that refusal is
        an event of the arena (seq 1, the start of its hash chain; its command id enters the arena's
        idempotency window). Such an arena holds nothing and ``exists`` stays False, but it is in the
        event topic and in the worker's tables alike: replay, audit, the live comparison and the views
        all list the arenas on record, so they can never disagree about whether one is there.
        """
        return self.last_seq > 0

    @classmethod
    def empty(cls, arena_id: str) -> ArenaState:
        """The state of an arena before its first event (it does not exist yet)."""
        return cls(arena_id=arena_id)

    def tier_limits(self, tier: Tier) -> TierPolicy:
        limits: TierPolicy = getattr(self.tier_policy, tier)
        return limits

    def capital_by_tier(self) -> dict[Tier, int]:
        """Capital held by alive agents per tier (O(n): for reports, diffs and audits, not per command)."""
        capital: dict[Tier, int] = dict.fromkeys(TIERS, 0)
        for agent in self.agents.values():
            if agent.alive:
                capital[agent.tier] += agent.balance
        return capital

    def alive_agents(self) -> Iterator[AgentState]:
        """All alive agents in agent-id order (O(n log n); only evolution cycles and audits need it)."""
        for agent_id in sorted(self.agents.keys()):
            agent = self.agents[agent_id]
            if agent.alive:
                yield agent


def tier_after(tier: Tier) -> Tier | None:
    """The next tier up, or None for the last one."""
    index = TIERS.index(tier)
    return TIERS[index + 1] if index + 1 < len(TIERS) else None
