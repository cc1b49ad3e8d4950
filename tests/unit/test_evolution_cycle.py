"""RunEvolutionCycle: culling, promotion, refill, rebalance and the accounting events."""

from __future__ import annotations

from typing import Any

from schemas.events import AgentKilled, CapitalConservationCheck, EvolutionCycleComplete, encode_event
from streams.domain import state_problems
from streams.domain.evolution import conservation_check
from tests.support.builders import Harness, arena, money, rejection_of, small_policies, with_agents


def _trade(h: Harness, agent_id: str, *amounts: int) -> None:
    for period, amount in enumerate(amounts):
        h.do("RecordPnL", agent_id=agent_id, amount=money(amount), period=period, source="simulation")


def _population() -> Harness:
    """Four judged incubator agents: a (best), b, c, d (worst, but not over the drawdown limit)."""
    h = with_agents(arena(funded=10_000_000), "a", "b", "c", "d", allocate=100_000)
    _trade(h, "a", 5_000, 5_000)
    _trade(h, "b", 2_000, 1_000)
    _trade(h, "c", 100, -100)
    _trade(h, "d", -20_000, 0)
    return h


def _of(events: list[Any], kind: str) -> list[Any]:
    return [e.payload for e in events if e.type == kind]


def test_cycle_culls_promotes_refills_and_rebalances() -> None:
    h = _population()
    out = h.do("RunEvolutionCycle", cycle=1)
    events = list(out.events)
    assert [k.agent_id for k in _of(events, "AgentKilled")] == ["d"]
    assert "bottom fitness" in _of(events, "AgentKilled")[0].reason
    assert [(g.agent_id, g.to_tier) for g in _of(events, "AgentGraduated")] == [("a", "proving"), ("b", "proving")]
    (mutated,) = _of(events, "AgentMutated")
    assert (mutated.parent_id, mutated.child_id) == ("a", "c1-0")
    child = h.state.agents["c1-0"]
    assert (child.tier, child.generation, child.parent_id) == ("incubator", 1, "a")
    # rebalance: capital 9_993_000; incubator and proving each get 30 % split over their two agents
    assert h.state.agents["c"].balance == 1_000_000  # capped by the incubator max_allocation
    assert h.state.agents["c1-0"].balance == 1_000_000
    assert h.state.agents["a"].balance == h.state.agents["b"].balance == 9_993_000 * 3_000 // 10_000 // 2
    assert [e.type for e in events[-2:]] == ["CapitalConservationCheck", "EvolutionCycleComplete"]
    complete = events[-1].payload
    assert isinstance(complete, EvolutionCycleComplete)
    assert (complete.judged, complete.killed, complete.graduated, complete.spawned, complete.population) == (
        4,
        1,
        2,
        1,
        4,
    )
    assert complete.allocated == 4
    assert h.state.last_cycle == 1
    assert state_problems(h.state) == []
    assert h.alerts == []


def test_conservation_check_event_reports_the_state_totals() -> None:
    h = _population()
    out = h.do("RunEvolutionCycle", cycle=1)
    check = out.events[-2].payload
    assert isinstance(check, CapitalConservationCheck)
    assert check == conservation_check(h.state)
    assert check.treasury + check.agents_total == check.funded - check.withdrawn + check.pnl
    assert check.tier_capital.incubator + check.tier_capital.proving + check.tier_capital.arena == check.agents_total


def test_agents_over_the_drawdown_limit_are_killed_even_without_bottom_culling() -> None:
    policies = small_policies()
    policies["evolution_policy"]["kill_bottom_bps"] = 0
    h = with_agents(arena(policies=policies), "a", "b", allocate=100_000)
    _trade(h, "a", 10_000, 10_000)
    _trade(h, "b", 60_000, -60_000)  # drawdown 6000 bps > 5000, return 0
    out = h.do("RunEvolutionCycle", cycle=1)
    killed = [e.payload for e in out.events if isinstance(e.payload, AgentKilled)]
    assert [(k.agent_id, "drawdown" in k.reason) for k in killed] == [("b", True)]


def test_unjudged_newborns_are_neither_killed_nor_promoted_but_get_capital() -> None:
    h = with_agents(arena(funded=1_000_000), "a")
    out = h.do("RunEvolutionCycle", cycle=1)
    types = [e.type for e in out.events]
    assert "AgentKilled" not in types
    assert "AgentGraduated" not in types
    # refill from all alive agents when nobody is judged yet: target population 4
    assert types.count("AgentSpawned") == 3
    assert h.state.tier_counts.incubator == 4
    assert all(agent.balance == 75_000 for agent in h.state.alive_agents())  # 30 % of 1M over 4


def test_refill_skips_child_ids_that_already_exist_and_respects_the_incubator_limit() -> None:
    h = with_agents(arena(), "a", "c1-0")
    out = h.do("RunEvolutionCycle", cycle=1)
    spawned = [e.payload.agent_id for e in out.events if e.type == "AgentSpawned"]  # type: ignore[union-attr]
    assert spawned == ["c1-1", "c1-2"]
    assert h.state.tier_counts.incubator == 4


def test_cycles_must_advance() -> None:
    h = with_agents(arena(), "a")
    h.do("RunEvolutionCycle", cycle=2)
    assert rejection_of(h.do("RunEvolutionCycle", cycle=2)) == ("CommandRejected", "CYCLE_OUT_OF_ORDER")
    assert rejection_of(h.do("RunEvolutionCycle", cycle=1)) == ("CommandRejected", "CYCLE_OUT_OF_ORDER")
    assert h.do("RunEvolutionCycle", cycle=5).events[-1].type == "EvolutionCycleComplete"


def test_cycle_on_an_empty_arena_only_reports() -> None:
    h = arena()
    out = h.do("RunEvolutionCycle", cycle=1)
    assert [e.type for e in out.events] == ["CapitalConservationCheck", "EvolutionCycleComplete"]


def test_same_history_gives_the_same_cycle_byte_for_byte() -> None:
    first, second = _population(), _population()
    a = [encode_event(e) for e in first.do("RunEvolutionCycle", cycle=1, command_id="cyc").events]
    b = [encode_event(e) for e in second.do("RunEvolutionCycle", cycle=1, command_id="cyc").events]
    assert a == b


def test_promotion_respects_the_target_tier_capacity_best_first() -> None:
    policies = small_policies()
    policies["tier_policy"]["proving"]["max_agents"] = 1
    h = with_agents(arena(policies=policies), "a", "b", allocate=100_000)
    _trade(h, "a", 1_000, 1_000)
    _trade(h, "b", 5_000, 5_000)
    policies_kill_none = h.do("RunEvolutionCycle", cycle=1)
    graduated = [e.payload.agent_id for e in policies_kill_none.events if e.type == "AgentGraduated"]  # type: ignore[union-attr]
    # b is best; a is bottom-culled (2 judged * 25 % = 0 agents, so nobody is culled) but proving is full
    assert graduated == ["b"]
