"""The simulation engine: deterministic commands whose expected outcome is the pipeline's own core."""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.market import DEFAULT_REGIMES, MarketDay, Regime, SyntheticMarket, normal_milli, trunc_div
from producers.simulation import (
    DAY_MS,
    SimulationConfig,
    SimulationRun,
    arena_ids,
    arena_policies,
    initial_allocation,
    simulate,
)
from producers.strategy import GENES, daily_pnl, random_genome
from schemas.commands import RecordPnL, RunEvolutionCycle, SpawnAgent, encode_command, parse_command
from schemas.genome import GENE_MAX, GENE_MIN
from streams.domain import ArenaState, Book, execute, state_problems
from streams.domain.policy import policy_problem
from streams.kafka.partitioning import partition_for

SMALL = SimulationConfig(arenas=2, agents_per_arena=12, days=10, seed=7)


def _digest(run: SimulationRun) -> str:
    h = hashlib.sha256()
    for command in run.commands():
        h.update(encode_command(command))
        h.update(b"\n")
    return h.hexdigest()


@dataclass
class Replica:
    """What the pipeline does with a run: decode each command from its bytes, execute, book-check."""

    states: dict[str, ArenaState] = field(default_factory=dict)
    book: Book = field(default_factory=Book)
    alerts: list[object] = field(default_factory=list)
    events: Counter[str] = field(default_factory=Counter)
    pnl_checked: int = 0

    def apply(self, raw: bytes) -> None:
        command = parse_command(raw)
        before = self.states.get(command.arena_id) or ArenaState.empty(command.arena_id)
        if isinstance(command, RecordPnL):
            agent = before.agents[command.agent_id]
            assert agent.alive, f"PnL for dead agent {command.agent_id}"
            loss = -command.amount.amount
            assert loss <= agent.balance, f"loss {loss} > balance {agent.balance}"
            self.pnl_checked += 1
        outcome = execute(before, command)
        assert not outcome.duplicate
        for event in outcome.events:
            self.alerts.extend(self.book.apply(event))
            self.events[event.type] += 1
        self.states[command.arena_id] = outcome.state


@dataclass
class DefaultRun:
    run: SimulationRun
    seconds: float
    replica: Replica
    days_reported: list[int]


@pytest.fixture(scope="module")
def default_run() -> DefaultRun:
    days: list[int] = []
    run = simulate(SimulationConfig(), partitioner=partition_for, progress=days.append)
    replica = Replica()
    started = time.perf_counter()
    for step in run:
        replica.apply(encode_command(step.command))
    return DefaultRun(run, time.perf_counter() - started, replica, days)


# --- determinism -------------------------------------------------------------------------------


def test_same_config_gives_byte_identical_commands() -> None:
    assert _digest(simulate(SMALL)) == _digest(simulate(SMALL))


def test_a_run_restarts_from_scratch_when_iterated_again() -> None:
    run = simulate(SMALL)
    first = [encode_command(c) for c in run.commands()]
    states = dict(run.expected_states)
    assert [encode_command(c) for c in run.commands()] == first
    assert {a: s.last_hash for a, s in run.expected_states.items()} == {a: s.last_hash for a, s in states.items()}


def test_different_seed_gives_different_commands_and_arenas() -> None:
    other = SimulationConfig(arenas=2, agents_per_arena=12, days=10, seed=8)
    assert _digest(simulate(SMALL)) != _digest(simulate(other))
    assert set(arena_ids(SMALL)).isdisjoint(arena_ids(other))


def test_any_config_change_moves_the_run_to_other_arenas() -> None:
    longer = SimulationConfig(arenas=2, agents_per_arena=12, days=11, seed=7)
    assert set(arena_ids(SMALL)).isdisjoint(arena_ids(longer))


def test_command_ids_are_deterministic_and_unique() -> None:
    ids = [c.command_id for c in simulate(SMALL).commands()]
    assert len(ids) == len(set(ids))
    assert ids == [c.command_id for c in simulate(SMALL).commands()]
    assert all(i.startswith("sim-7-") for i in ids)


# --- the default run -----------------------------------------------------------------------------


def test_default_run_is_fast(default_run: DefaultRun) -> None:
    assert default_run.seconds < 10, f"{default_run.seconds:.1f}s"


def test_default_run_has_no_rejections_or_duplicates(default_run: DefaultRun) -> None:
    stats = default_run.run.stats
    assert stats.rejections == []
    assert stats.duplicates == 0
    assert stats.events["CommandRejected"] == 0
    assert stats.events["AllocationError"] == 0


def test_default_run_shape(default_run: DefaultRun) -> None:
    stats = default_run.run.stats
    assert stats.commands["CreateArena"] == stats.commands["FundArena"] == 4
    assert stats.commands["SpawnAgent"] == stats.commands["AllocateCapital"] == 4 * 64
    assert stats.commands["RunEvolutionCycle"] == 4 * 6
    assert stats.commands["RecordPnL"] >= 4 * 30 * 50
    assert stats.commands_total == sum(stats.commands.values())
    assert default_run.days_reported == list(range(31))


def test_expected_states_conserve_capital(default_run: DefaultRun) -> None:
    config = default_run.run.config
    for state in default_run.run.expected_states.values():
        assert state_problems(state) == []
        assert state.funded_total == config.funding_minor
        assert state.treasury + state.agents_total == state.funded_total - state.withdrawn_total + state.pnl_total
        assert state.last_cycle == 6


def test_pipeline_replica_reaches_the_expected_states(default_run: DefaultRun) -> None:
    replica = default_run.replica
    assert replica.alerts == []
    expected = default_run.run.expected_states
    assert {a: s.last_hash for a, s in replica.states.items()} == {a: s.last_hash for a, s in expected.items()}
    assert replica.events == default_run.run.stats.events


def test_evolution_kills_graduates_and_mutates(default_run: DefaultRun) -> None:
    stats = default_run.run.stats
    assert stats.killed > 0
    assert stats.graduated > 0
    assert stats.mutated > 0
    tiers = Counter(agent.tier for state in default_run.run.expected_states.values() for agent in state.alive_agents())
    assert tiers["proving"] > 0
    assert tiers["arena"] > 0
    for state in default_run.run.expected_states.values():
        assert state.tier_counts.alive == 64  # refilled to the target every cycle


def test_pnl_is_only_for_alive_agents_and_never_exceeds_a_balance(default_run: DefaultRun) -> None:
    assert default_run.replica.pnl_checked == default_run.run.stats.commands["RecordPnL"]


def test_default_arenas_spread_over_the_partitions(default_run: DefaultRun) -> None:
    partitions = {partition_for(a, 4) for a in default_run.run.arena_ids}
    assert partitions == {0, 1, 2, 3}


def test_arena_ids_without_a_partitioner_are_numbered() -> None:
    ids = arena_ids(SMALL)
    assert [i.rsplit("-", 1)[1] for i in ids] == ["0", "1"]


# --- the command stream ----------------------------------------------------------------------------


def test_engine_time_increases_within_each_arena_and_follows_the_day() -> None:
    config = SMALL
    last: dict[str, int] = {}
    for step in simulate(config):
        command = step.command
        assert command.issued_at > last.get(command.arena_id, -1)
        last[command.arena_id] = command.issued_at
        assert (command.issued_at - config.start_ms) // DAY_MS == step.day
        if isinstance(command, RecordPnL):
            assert command.period == step.day >= 1
            assert command.source == "simulation"
            assert command.fill_ref is None
            assert command.amount.currency == config.currency


def test_days_interleave_arenas_and_cycles_follow_the_schedule() -> None:
    steps = list(simulate(SMALL))
    days = [s.day for s in steps]
    assert days == sorted(days)
    for day in range(1, SMALL.days + 1):
        assert {s.command.arena_id for s in steps if s.day == day} == set(arena_ids(SMALL))
    cycles = [(s.day, s.command.cycle) for s in steps if isinstance(s.command, RunEvolutionCycle)]
    assert cycles == [(5, 1), (5, 1), (10, 2), (10, 2)]


def test_founders_get_genomes_within_their_initial_ranges() -> None:
    spawns = [c for c in simulate(SMALL).commands() if isinstance(c, SpawnAgent)]
    assert len(spawns) == 2 * 12
    for spawn in spawns:
        assert set(spawn.genome) == {g.name for g in GENES}
        for gene in GENES:
            assert gene.initial_low <= spawn.genome[gene.name] <= gene.initial_high


def test_stopping_early_leaves_the_expectations_of_what_was_yielded() -> None:
    run = simulate(SMALL)
    for count, _step in enumerate(run, start=1):
        if count == 5:
            break
    assert run.stats.commands_total == 5
    assert sum(s.last_seq for s in run.expected_states.values()) == 5


def test_a_zero_day_run_only_sets_up() -> None:
    run = simulate(SimulationConfig(arenas=1, agents_per_arena=3, days=0)).run()
    assert run.stats.commands == Counter({"CreateArena": 1, "FundArena": 1, "SpawnAgent": 3, "AllocateCapital": 3})
    (state,) = run.expected_states.values()
    assert state.treasury == state.funded_total - 3 * initial_allocation(run.config)


# --- config --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"arenas": 0}, "arenas"),
        ({"agents_per_arena": 0}, "agents_per_arena"),
        ({"days": -1}, "days"),
        ({"seed": -1}, "seed"),
        ({"evolution_every_days": 0}, "evolution_every_days"),
        ({"currency": "usd"}, "currency"),
        ({"funding_minor": 0}, "funding_minor"),
        ({"arena_prefix": "bad prefix"}, "arena_prefix"),
        ({"initial_allocation_minor": 10**12}, "initial allocation"),
        ({"funding_minor": 100, "agents_per_arena": 200}, "initial allocation"),
    ],
)
def test_bad_configs_are_refused(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SimulationConfig(**changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("agents", [1, 2, 7, 64, 500])
def test_derived_policies_are_valid_and_seat_the_population(agents: int) -> None:
    config = SimulationConfig(agents_per_arena=agents)
    tiers, evolution = arena_policies(config)
    assert policy_problem(tiers, evolution) is None
    assert tiers.incubator.max_agents >= agents
    assert evolution.target_population == agents
    assert initial_allocation(config) * agents <= config.funding_minor


# --- market and strategy -------------------------------------------------------------------------


def test_market_is_deterministic_and_integral() -> None:
    a = list(SyntheticMarket(3).days(200))
    assert a == list(SyntheticMarket(3).days(200))
    assert a != list(SyntheticMarket(4).days(200))
    assert all(isinstance(d.return_bps, int) and isinstance(d.trend_bps, int) for d in a)


def test_market_visits_every_regime_and_trend_looks_back_only() -> None:
    days = list(SyntheticMarket(1).days(3_000))
    assert {d.regime for d in days} == {r.name for r in DEFAULT_REGIMES}
    returns = [d.return_bps for d in days]
    for i in (0, 1, 10, 2_999):
        assert days[i].trend_bps == sum(returns[max(0, i - 5) : i])


def test_regimes_differ_in_volatility() -> None:
    days = list(SyntheticMarket(2).days(5_000))
    spread: dict[str, list[int]] = {}
    for d in days:
        spread.setdefault(d.regime, []).append(abs(d.return_bps))
    mean = {name: sum(v) // len(v) for name, v in spread.items()}
    assert mean["crisis"] > mean["bear"] > mean["sideways"]


def test_bad_regime_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="sum to"):
        SyntheticMarket(1, regimes=(Regime("x", 0, 10, (9_999,)),))
    with pytest.raises(ValueError, match="transition weights"):
        SyntheticMarket(1, regimes=(Regime("x", 0, 10, (5_000, 5_000)),))


def test_normal_draws_have_unit_scale() -> None:
    rng = random.Random(5)
    draws = [normal_milli(rng) for _ in range(20_000)]
    mean = sum(draws) // len(draws)
    variance = sum(d * d for d in draws) // len(draws)
    assert abs(mean) < 30
    assert 900**2 < variance < 1_100**2


@given(st.integers(-(10**12), 10**12), st.integers(1, 10**6).flatmap(lambda d: st.sampled_from([d, -d])))
def test_trunc_div_rounds_toward_zero(numerator: int, denominator: int) -> None:
    q = trunc_div(numerator, denominator)
    assert abs(q) == abs(numerator) // abs(denominator)
    assert q == 0 or (q > 0) == ((numerator > 0) == (denominator > 0))


_genes = st.dictionaries(
    st.sampled_from([g.name for g in GENES]), st.integers(GENE_MIN, GENE_MAX), min_size=0, max_size=len(GENES)
)
_days = st.builds(
    MarketDay,
    day=st.integers(1, 1_000),
    regime=st.just("any"),
    return_bps=st.integers(-5_000, 5_000),
    vol_bps=st.integers(0, 1_000),
    trend_bps=st.integers(-20_000, 20_000),
)


@given(st.integers(0, 10**15), _genes, _days, st.integers(-6_000, 6_000))
def test_a_day_never_loses_more_than_the_balance_or_the_risk_limit(
    balance: int, genome: dict[str, int], day: MarketDay, shock: int
) -> None:
    pnl = daily_pnl(balance, genome, day, shock)
    assert isinstance(pnl, int)
    assert -pnl <= balance
    limit = max(1, min(10_000, genome.get("risk_limit_bps", 10_000)))
    assert -pnl <= balance * limit // 10_000


def test_exposure_and_skill_shape_pnl() -> None:
    up = MarketDay(day=1, regime="bull", return_bps=100, vol_bps=100, trend_bps=0)
    long = {"exposure_bps": 10_000}
    short = {"exposure_bps": -10_000}
    assert daily_pnl(1_000_000, long, up, 0) == 10_000
    assert daily_pnl(1_000_000, short, up, 0) == -10_000
    assert daily_pnl(1_000_000, {"skill_bps": 1_000}, up, 0) == 1_000
    trending = MarketDay(day=2, regime="bull", return_bps=100, vol_bps=100, trend_bps=500)
    assert daily_pnl(1_000_000, {"momentum_bps": 10_000}, trending, 0) == 10_000
    assert daily_pnl(0, long, up, 0) == 0


def test_random_genomes_respect_initial_ranges() -> None:
    rng = random.Random(0)
    for _ in range(200):
        genome = random_genome(rng)
        assert all(g.initial_low <= genome[g.name] <= g.initial_high for g in GENES)
