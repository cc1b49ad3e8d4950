"""The simulation engine: a seeded backtest of agent populations, as a stream of arena commands.

``simulate(config)`` returns a ``SimulationRun``; iterating it yields ``SimStep`` s in publication
order. Nothing here talks to Kafka: the caller publishes ``step.command`` (or ``run.commands()``).

What a run issues
    Day 0, arena by arena: ``CreateArena`` (policies sized for the population, see
    ``arena_policies``), ``FundArena``, then ``SpawnAgent`` + ``AllocateCapital`` per founder (genome
    drawn by ``producers.strategy.random_genome``). Days 1..``days``, arenas interleaved day by day:
    one ``RecordPnL`` (source ``simulation``, period = day) per *alive* agent, its amount shaped by the
    agent's genome and the day of one shared synthetic market (``producers.market``); every
    ``evolution_every_days`` days a ``RunEvolutionCycle`` (cycles 1, 2, 3...).

Who decides the population
    Kills, graduations and mutated children are decided by the pipeline's pure core, not here. The run
    keeps one ``ArenaState`` per arena and folds every command it yields through
    ``streams.domain.execute``, the function the Kafka worker runs. It therefore knows who is alive
    and what each agent holds (so no loss ever exceeds a balance), and ``run.expected_states`` is the
    state the pipeline must reach: the main job compares it with the live table and the audit.

Determinism and idempotency
    Every draw comes from ``random.Random`` instances seeded from ``config.seed`` and every amount is
    an integer, so the same config gives byte-identical commands. Arena ids carry the seed and a
    fingerprint of the whole config (``sim-42-3fa9c1-0``): a different config never lands in the
    arenas of another. Command ids are ``{arena_id}-{n}`` (``n`` counts the arena's commands), so
    re-publishing a run is dropped by the pipeline's duplicate check, and the arenas' command-id
    windows are sized to remember a whole run. ``issued_at`` is ``start_ms + day * 86 400 000 + k``
    with ``k`` the command's index within its arena's day: engine time strictly increases per arena.

Partitions
    Given a ``partitioner`` (``streams.kafka.partitioning.partition_for``; passed in so this module imports
    no Kafka client), arena ``i`` gets the first free numeric suffix whose id lands on partition
    ``i % config.partitions``, so the arenas spread round-robin over the workers.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from typing import Final, TypedDict

from producers.market import BPS, MarketDay, SyntheticMarket, normal_milli
from producers.strategy import daily_pnl, random_genome
from schemas.commands import (
    AllocateCapital,
    Command,
    CreateArena,
    FundArena,
    RecordPnL,
    RunEvolutionCycle,
    SpawnAgent,
)
from schemas.events import AllocationError, CommandRejected, Event
from schemas.fields import ArenaId
from schemas.money import MAX_MINOR, RequestedMoney
from schemas.policies import MAX_WINDOW, EvolutionPolicy, GraduationThreshold, TierPolicies, TierPolicy
from schemas.rejections import Reason
from streams.domain import ArenaState, execute
from streams.domain.policy import policy_problem

SIMULATION_VERSION: Final = 1
"""Part of every run's fingerprint: bump it when the generator changes, so old and new runs never share arenas."""
DAY_MS: Final = 86_400_000
DEFAULT_START_MS: Final = 1_704_067_200_000
"""2024-01-01T00:00:00Z, the engine clock of day 0."""
DEFAULT_FUNDING_MINOR: Final = 1_000_000_000
"""10 million USD in cents."""
_PREFIX_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,23}$"
_DEFAULT_COMMAND_WINDOW: Final = EvolutionPolicy().command_id_window

Partitioner = Callable[[str, int], int]
"""``(arena_id, partitions) -> partition``, e.g. ``streams.kafka.partitioning.partition_for``."""
Progress = Callable[[int], None]
"""Called with the day number after each day's commands (0 after the setup)."""


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """One run. All money in minor units of ``currency``.

    ``initial_allocation_minor`` None gives each founder an equal share of the incubator budget.
    ``tier_policy`` / ``evolution_policy`` None derive policies from the population
    (``arena_policies``); given ones are used as they are.
    """

    arenas: int = 4
    agents_per_arena: int = 64
    days: int = 30
    seed: int = 42
    evolution_every_days: int = 5
    currency: str = "USD"
    funding_minor: int = DEFAULT_FUNDING_MINOR
    initial_allocation_minor: int | None = None
    start_ms: int = DEFAULT_START_MS
    arena_prefix: str = "sim"
    partitions: int = 4
    mutation_step: int = 250
    tier_policy: TierPolicies | None = None
    evolution_policy: EvolutionPolicy | None = None

    def __post_init__(self) -> None:
        problem = _config_problem(self)
        if problem:
            raise ValueError(f"invalid simulation config: {problem}")


def _config_problem(c: SimulationConfig) -> str | None:
    checks: tuple[tuple[bool, str], ...] = (
        (c.arenas >= 1, f"arenas={c.arenas} must be at least 1"),
        (1 <= c.agents_per_arena <= 100_000, f"agents_per_arena={c.agents_per_arena} must be within [1, 100000]"),
        (c.days >= 0, f"days={c.days} must be >= 0"),
        (0 <= c.seed <= MAX_MINOR, f"seed={c.seed} must be within [0, {MAX_MINOR}]"),
        (c.evolution_every_days >= 1, f"evolution_every_days={c.evolution_every_days} must be at least 1"),
        (re.fullmatch(r"[A-Z]{3}", c.currency) is not None, f"currency={c.currency!r} must be 3 capital letters"),
        (1 <= c.funding_minor <= MAX_MINOR, f"funding_minor={c.funding_minor} must be within [1, {MAX_MINOR}]"),
        (0 <= c.start_ms <= MAX_MINOR - (c.days + 1) * DAY_MS, f"start_ms={c.start_ms} is out of range"),
        (re.fullmatch(_PREFIX_PATTERN, c.arena_prefix) is not None, f"arena_prefix must match {_PREFIX_PATTERN}"),
        (c.partitions >= 1, f"partitions={c.partitions} must be at least 1"),
        (0 <= c.mutation_step <= 100_000, f"mutation_step={c.mutation_step} must be within [0, 100000]"),
    )
    for ok, complaint in checks:
        if not ok:
            return complaint
    tiers, evolution = arena_policies(c)
    problem = policy_problem(tiers, evolution)
    if problem:
        return f"arena policy: {problem}"
    allocation = initial_allocation(c)
    if not 1 <= allocation <= tiers.incubator.max_allocation:
        return f"initial allocation {allocation} must be within [1, {tiers.incubator.max_allocation}] (incubator limit)"
    if allocation * c.agents_per_arena > c.funding_minor:
        return f"{c.agents_per_arena} agents x {allocation} exceeds the funding of {c.funding_minor}"
    if c.agents_per_arena > tiers.incubator.max_agents:
        return f"{c.agents_per_arena} founders do not fit the incubator's {tiers.incubator.max_agents} seats"
    return None


def commands_per_arena_bound(config: SimulationConfig) -> int:
    """At most this many commands go to one arena (the population never exceeds its target)."""
    n = config.agents_per_arena
    return 2 + 2 * n + config.days * n + config.days // config.evolution_every_days


def arena_policies(config: SimulationConfig) -> tuple[TierPolicies, EvolutionPolicy]:
    """Policies that fit the population.

    Tiers: the incubator seats every founder; proving and arena seat a quarter and an eighth of it.
    Budgets are 20/30/40 % of the arena's capital (10 % reserve); an agent's cap is twice its tier's
    budget spread over the full tier, so a thinly populated tier does not concentrate capital.
    Evolution: judge after one evolution period of records, graduate after two (incubator -> proving,
    +2 %) and four (proving -> arena, +5 %), keep the population at ``agents_per_arena``, and remember
    every command id of the run.
    """
    n = config.agents_per_arena
    every = config.evolution_every_days

    def tier(max_agents: int, budget_bps: int) -> TierPolicy:
        cap = 2 * (config.funding_minor * budget_bps // BPS // max_agents)
        return TierPolicy(max_agents=max_agents, max_allocation=max(1, cap), budget_bps=budget_bps)

    tiers = config.tier_policy or TierPolicies(
        incubator=tier(n, 2_000), proving=tier(max(1, n // 4), 3_000), arena=tier(max(1, n // 8), 4_000)
    )
    evolution = config.evolution_policy or EvolutionPolicy(
        min_records=every,
        kill_bottom_bps=1_000,
        max_drawdown_bps=2_500,
        to_proving=GraduationThreshold(min_records=2 * every, min_return_bps=200),
        to_arena=GraduationThreshold(min_records=4 * every, min_return_bps=500),
        target_population=n,
        mutation_step=config.mutation_step,
        command_id_window=min(MAX_WINDOW, max(_DEFAULT_COMMAND_WINDOW, commands_per_arena_bound(config))),
    )
    return tiers, evolution


def initial_allocation(config: SimulationConfig) -> int:
    if config.initial_allocation_minor is not None:
        return config.initial_allocation_minor
    tiers = config.tier_policy or arena_policies(config)[0]
    return config.funding_minor * tiers.incubator.budget_bps // BPS // config.agents_per_arena


def fingerprint(config: SimulationConfig) -> str:
    """Six hex digits of SHA-256 over the canonical config and the generator version."""
    doc: dict[str, object] = {"version": SIMULATION_VERSION}
    for f in fields(config):
        value = getattr(config, f.name)
        doc[f.name] = value.model_dump(mode="json") if isinstance(value, TierPolicies | EvolutionPolicy) else value
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:6]


def run_tag(config: SimulationConfig) -> str:
    """The run's name (``sim-42-3fa9c1``): the arena ids' stem and every command's correlation id."""
    return f"{config.arena_prefix}-{config.seed}-{fingerprint(config)}"


def arena_ids(config: SimulationConfig, partitioner: Partitioner | None = None) -> list[ArenaId]:
    """``{run_tag}-{k}`` for each arena; with a ``partitioner``, ``k`` is chosen so arena ``i`` lands
    on partition ``i % config.partitions``, else ``k = i``."""
    tag = run_tag(config)
    if partitioner is None:
        return [f"{tag}-{i}" for i in range(config.arenas)]
    chosen: list[str] = []
    used: set[int] = set()
    for i in range(config.arenas):
        target = i % config.partitions
        k = 0
        while k in used or partitioner(f"{tag}-{k}", config.partitions) != target:
            k += 1
        used.add(k)
        chosen.append(f"{tag}-{k}")
    return chosen


def _arena_seed(config: SimulationConfig, index: int) -> int:
    digest = hashlib.sha256(f"arena-ledger/sim/{config.seed}/arena/{index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & MAX_MINOR


@dataclass(frozen=True, slots=True)
class SimStep:
    """One command of the run with the events the pipeline is expected to decide for it."""

    day: int
    command: Command
    events: tuple[Event, ...]

    @property
    def rejected(self) -> bool:
        return any(isinstance(e.payload, CommandRejected | AllocationError) for e in self.events)


@dataclass(frozen=True, slots=True)
class RejectedCommand:
    """A command of the run that the core refused (a default run has none)."""

    day: int
    arena_id: str
    command_id: str
    command_type: str
    reason: Reason
    message: str


@dataclass(slots=True)
class RunStats:
    """Counts of what a run issued and what the core decided, up to the last step yielded."""

    commands: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    rejections: list[RejectedCommand] = field(default_factory=list)
    duplicates: int = 0
    days_done: int = -1
    """The last day whose commands were all yielded (0: setup done, -1: not started)."""

    @property
    def commands_total(self) -> int:
        return sum(self.commands.values())

    @property
    def events_total(self) -> int:
        return sum(self.events.values())

    @property
    def killed(self) -> int:
        return self.events["AgentKilled"]

    @property
    def graduated(self) -> int:
        return self.events["AgentGraduated"]

    @property
    def mutated(self) -> int:
        return self.events["AgentMutated"]


class _Envelope(TypedDict):
    command_id: str
    arena_id: str
    issued_at: int
    correlation_id: str


class _Arena:
    """One arena's side of the run: its expected state, command counter, clock and noise source."""

    def __init__(self, config: SimulationConfig, index: int, arena_id: str, correlation_id: str) -> None:
        self.config = config
        self.index = index
        self.arena_id = arena_id
        self.correlation_id = correlation_id
        self.state = ArenaState.empty(arena_id)
        self.issued = 0
        self.day = 0
        self.day_index = 0
        seed = config.seed
        self.genome_rng = random.Random(f"arena-ledger/sim/{seed}/{index}/genomes")  # noqa: S311
        self.noise_rng = random.Random(f"arena-ledger/sim/{seed}/{index}/noise")  # noqa: S311

    def start_day(self, day: int) -> None:
        self.day = day
        self.day_index = 0

    def envelope(self) -> _Envelope:
        """The fields every command of this arena carries, advancing its id counter and clock."""
        envelope = _Envelope(
            command_id=f"{self.arena_id}-{self.issued}",
            arena_id=self.arena_id,
            issued_at=self.config.start_ms + self.day * DAY_MS + self.day_index,
            correlation_id=self.correlation_id,
        )
        self.issued += 1
        self.day_index += 1
        return envelope


class SimulationRun:
    """A run of ``config``. Iterate it (once or again: each iteration restarts from scratch) to get
    its ``SimStep`` s; ``expected_states`` and ``stats`` describe the steps yielded so far."""

    def __init__(
        self, config: SimulationConfig, *, partitioner: Partitioner | None = None, progress: Progress | None = None
    ) -> None:
        self.config = config
        self.progress = progress
        self.tag = run_tag(config)
        self.arena_ids: list[ArenaId] = arena_ids(config, partitioner)
        self.tier_policy, self.evolution_policy = arena_policies(config)
        self.expected_states: dict[str, ArenaState] = {}
        self.market_days: list[MarketDay] = []
        self.stats = RunStats()

    def __iter__(self) -> Iterator[SimStep]:
        config = self.config
        arenas = [_Arena(config, i, arena_id, self.tag) for i, arena_id in enumerate(self.arena_ids)]
        self.expected_states = {a.arena_id: a.state for a in arenas}
        self.market_days = []
        self.stats = RunStats()
        for arena in arenas:
            for command in self._setup(arena):
                yield self._step(arena, command)
        self._day_done(0)
        market = SyntheticMarket(config.seed)
        for day in range(1, config.days + 1):
            today = market.next_day()
            self.market_days.append(today)
            for arena in arenas:
                arena.start_day(day)
                for agent in arena.state.alive_agents():
                    # Each RecordPnL moves only its own agent, so the balance read here is current.
                    amount = daily_pnl(agent.balance, agent.genome, today, normal_milli(arena.noise_rng))
                    yield self._step(arena, self._pnl(arena, agent.agent_id, amount))
                if day % config.evolution_every_days == 0:
                    cycle = day // config.evolution_every_days
                    yield self._step(
                        arena, RunEvolutionCycle(type="RunEvolutionCycle", cycle=cycle, **arena.envelope())
                    )
            self._day_done(day)

    def commands(self) -> Iterator[Command]:
        """Just the commands, in publication order."""
        for step in self:
            yield step.command

    def run(self) -> SimulationRun:
        """Work out the whole run without publishing it (for expectations, tests and dry runs)."""
        for _ in self:
            pass
        return self

    def _setup(self, arena: _Arena) -> Iterator[Command]:
        config = self.config
        arena.start_day(0)
        yield CreateArena(
            type="CreateArena",
            currency=config.currency,
            tier_policy=self.tier_policy,
            evolution_policy=self.evolution_policy,
            seed=_arena_seed(config, arena.index),
            **arena.envelope(),
        )
        yield FundArena(type="FundArena", amount=self._money(config.funding_minor), **arena.envelope())
        allocation = initial_allocation(config)
        width = len(str(config.agents_per_arena - 1))
        for i in range(config.agents_per_arena):
            agent_id = f"a{i:0{width}d}"
            genome = random_genome(arena.genome_rng)
            yield SpawnAgent(type="SpawnAgent", agent_id=agent_id, genome=genome, **arena.envelope())
            yield AllocateCapital(
                type="AllocateCapital", agent_id=agent_id, amount=self._money(allocation), **arena.envelope()
            )

    def _pnl(self, arena: _Arena, agent_id: str, amount: int) -> RecordPnL:
        return RecordPnL(
            type="RecordPnL",
            agent_id=agent_id,
            amount=self._money(amount),
            period=arena.day,
            source="simulation",
            **arena.envelope(),
        )

    def _money(self, amount: int) -> RequestedMoney:
        return RequestedMoney(amount=amount, currency=self.config.currency)

    def _step(self, arena: _Arena, command: Command) -> SimStep:
        outcome = execute(arena.state, command)
        arena.state = outcome.state
        self.expected_states[arena.arena_id] = outcome.state
        stats = self.stats
        stats.commands[command.type] += 1
        stats.duplicates += outcome.duplicate
        for event in outcome.events:
            stats.events[event.type] += 1
            payload = event.payload
            if isinstance(payload, CommandRejected | AllocationError):
                stats.rejections.append(
                    RejectedCommand(
                        arena.day, arena.arena_id, command.command_id, command.type, payload.reason, payload.message
                    )
                )
        return SimStep(arena.day, command, outcome.events)

    def _day_done(self, day: int) -> None:
        self.stats.days_done = day
        if self.progress is not None:
            self.progress(day)


def simulate(
    config: SimulationConfig, *, partitioner: Partitioner | None = None, progress: Progress | None = None
) -> SimulationRun:
    """A run of ``config``, ready to iterate (see ``SimulationRun``)."""
    return SimulationRun(config, partitioner=partitioner, progress=progress)
