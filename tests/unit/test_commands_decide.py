"""Each command's success path and each rejection reason, pinned by behaviour."""

from __future__ import annotations

import pytest

from schemas.money import MAX_MINOR
from schemas.rejections import ErrorKind, Reason
from streams.domain import ArenaState, execute
from tests.support.builders import ARENA, EUR, Harness, arena, command, money, rejection_of, small_policies, with_agents

# --- CreateArena -------------------------------------------------------------------------------


def test_create_arena_records_policies_and_defaults() -> None:
    h = Harness()
    out = h.do("CreateArena", currency=EUR, seed=9)
    (event,) = out.events
    assert event.type == "ArenaCreated"
    assert event.seq == 1
    assert event.payload.tier_policy.incubator.max_agents == 200  # type: ignore[union-attr]
    assert h.state.exists
    assert h.state.currency == EUR
    assert h.state.command_ids.capacity == 10_000
    assert h.state.fill_refs.capacity == 100_000


def test_creating_an_existing_arena_is_rejected() -> None:
    h = arena()
    assert rejection_of(h.do("CreateArena", currency=EUR, seed=1)) == ("CommandRejected", "ARENA_EXISTS")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("tier_policy", "incubator", "max_agents"), 0),
        (("tier_policy", "arena", "budget_bps"), 5_000),  # sums to 11000
        (("tier_policy", "proving", "max_allocation"), MAX_MINOR + 1),
        (("evolution_policy", "kill_bottom_bps"), 10_001),
        (("evolution_policy", "min_records"), 0),
        (("evolution_policy", "command_id_window"), 0),
        (("evolution_policy", "target_population"), 10**40),
    ],
)
def test_policy_with_impossible_numbers_is_rejected(path: tuple[str, ...], value: int) -> None:
    policies = small_policies()
    node = policies
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    h = Harness()
    out = h.do("CreateArena", currency=EUR, seed=1, **policies)
    assert rejection_of(out) == ("CommandRejected", "INVALID_POLICY")
    assert path[-1] in out.events[0].payload.message  # type: ignore[union-attr]
    assert not h.state.exists


def test_commands_to_a_missing_arena_are_rejected_but_recorded() -> None:
    h = Harness()
    out = h.do("FundArena", amount=money(100))
    assert rejection_of(out) == ("CommandRejected", "ARENA_NOT_FOUND")
    assert h.state.last_seq == 1
    out = h.do("AllocateCapital", agent_id="a", amount=money(5))
    assert rejection_of(out) == ("AllocationError", "ARENA_NOT_FOUND")
    assert out.events[0].payload.requested == 5  # type: ignore[union-attr]
    # the arena can still be created afterwards, continuing the same seq
    assert h.do("CreateArena", currency=EUR, seed=1).events[0].seq == 3


# --- FundArena / WithdrawFunds ------------------------------------------------------------------


def test_funding_moves_money_from_external_to_treasury() -> None:
    h = arena(funded=0)
    (event,) = h.do("FundArena", amount=money(2_500)).events
    assert event.type == "ArenaFunded"
    assert [(p.debit, p.credit, p.amount) for p in event.postings] == [("treasury", "external", 2_500)]
    assert (h.state.treasury, h.state.funded_total) == (2_500, 2_500)


@pytest.mark.parametrize("amount", [0, -1, MAX_MINOR + 1, 2**53, 10**30, -(10**30)])
def test_fund_amount_outside_range_is_rejected(amount: int) -> None:
    h = arena(funded=0)
    assert rejection_of(h.do("FundArena", amount=money(amount))) == ("CommandRejected", "AMOUNT_OUT_OF_RANGE")
    assert h.state.treasury == 0


def test_funding_up_to_the_exact_maximum_is_accepted_and_beyond_is_rejected() -> None:
    h = arena(funded=0)
    assert h.do("FundArena", amount=money(MAX_MINOR)).events[0].type == "ArenaFunded"
    assert rejection_of(h.do("FundArena", amount=money(1))) == ("CommandRejected", "AMOUNT_OUT_OF_RANGE")


def test_cumulative_funded_total_cannot_overflow_even_after_withdrawals() -> None:
    h = arena(funded=MAX_MINOR)
    h.do("WithdrawFunds", amount=money(MAX_MINOR))
    out = h.do("FundArena", amount=money(1))
    assert rejection_of(out) == ("CommandRejected", "AMOUNT_OUT_OF_RANGE")
    assert "funded total" in out.events[0].payload.message  # type: ignore[union-attr]


def test_funding_in_another_currency_is_rejected() -> None:
    h = arena()
    assert rejection_of(h.do("FundArena", amount=money(5, "USD"))) == ("CommandRejected", "CURRENCY_MISMATCH")


def test_withdrawal_moves_money_from_treasury_to_external() -> None:
    h = arena(funded=1_000)
    (event,) = h.do("WithdrawFunds", amount=money(400)).events
    assert [(p.debit, p.credit, p.amount) for p in event.postings] == [("external", "treasury", 400)]
    assert (h.state.treasury, h.state.withdrawn_total) == (600, 400)


def test_withdrawing_more_than_the_treasury_is_rejected() -> None:
    h = with_agents(arena(funded=1_000), "a", allocate=600)
    out = h.do("WithdrawFunds", amount=money(401))
    assert rejection_of(out) == ("CommandRejected", "INSUFFICIENT_TREASURY")
    assert out.events[0].payload.error_kind == ErrorKind.InsufficientFundsError  # type: ignore[union-attr]


def test_withdrawing_zero_is_rejected() -> None:
    h = arena()
    assert rejection_of(h.do("WithdrawFunds", amount=money(0))) == ("CommandRejected", "AMOUNT_OUT_OF_RANGE")


# --- SpawnAgent ---------------------------------------------------------------------------------


def test_spawned_agent_starts_alive_in_the_incubator_with_nothing() -> None:
    h = arena()
    (event,) = h.do("SpawnAgent", agent_id="a", genome={"lookback": 5}).events
    assert event.type == "AgentSpawned"
    agent = h.state.agents["a"]
    assert (agent.tier, agent.alive, agent.balance, agent.generation, agent.parent_id) == (
        "incubator",
        True,
        0,
        0,
        None,
    )
    assert agent.born_seq == event.seq
    assert h.state.tier_counts.incubator == 1


def test_spawning_an_existing_agent_id_is_rejected() -> None:
    h = with_agents(arena(), "a")
    assert rejection_of(h.do("SpawnAgent", agent_id="a", genome={})) == ("CommandRejected", "AGENT_EXISTS")


def test_ids_of_killed_agents_are_never_reused() -> None:
    h = with_agents(arena(), "a")
    h.do("KillAgent", agent_id="a", reason="retired")
    assert rejection_of(h.do("SpawnAgent", agent_id="a", genome={})) == ("CommandRejected", "AGENT_EXISTS")


@pytest.mark.parametrize(
    "genome",
    [
        {f"g{i}": 0 for i in range(17)},
        {"Bad": 1},
        {"1x": 1},
        {"x" * 33: 1},
        {"ok": 1_000_001},
        {"ok": -1_000_001},
        {"ok": 10**40},
    ],
)
def test_genome_outside_the_gene_rules_is_rejected(genome: dict[str, int]) -> None:
    h = arena()
    out = h.do("SpawnAgent", agent_id="a", genome=genome)
    assert rejection_of(out) == ("CommandRejected", "INVALID_GENOME")
    assert out.events[0].payload.error_kind == ErrorKind.EvolutionError  # type: ignore[union-attr]


def test_genome_at_the_gene_bounds_is_accepted() -> None:
    h = arena()
    genome = {f"g{i}": (1_000_000 if i % 2 else -1_000_000) for i in range(16)}
    assert h.do("SpawnAgent", agent_id="a", genome=genome).events[0].type == "AgentSpawned"


def test_spawning_into_a_full_tier_is_rejected_and_dead_agents_free_their_seat() -> None:
    h = with_agents(arena(), "a", "b", "c", "d")
    assert rejection_of(h.do("SpawnAgent", agent_id="e", genome={})) == ("CommandRejected", "TIER_FULL")
    h.do("KillAgent", agent_id="a", reason="make room")
    assert h.do("SpawnAgent", agent_id="e", genome={}).events[0].type == "AgentSpawned"


# --- AllocateCapital / ReleaseCapital -----------------------------------------------------------


def test_allocation_moves_capital_from_treasury_to_agent() -> None:
    h = with_agents(arena(funded=1_000_000), "a")
    (event,) = h.do("AllocateCapital", agent_id="a", amount=money(250_000)).events
    assert [(p.debit, p.credit, p.amount) for p in event.postings] == [("agent:a", "treasury", 250_000)]
    assert (h.state.treasury, h.state.agents["a"].balance, h.state.agents_total) == (750_000, 250_000, 250_000)


def test_allocation_rejections_are_allocation_errors_with_the_requested_amount() -> None:
    h = with_agents(arena(funded=500), "a")
    out = h.do("AllocateCapital", agent_id="a", amount=money(501))
    assert rejection_of(out) == ("AllocationError", "INSUFFICIENT_TREASURY")
    payload = out.events[0].payload
    assert (payload.agent_id, payload.requested, payload.command_type) == ("a", 501, "AllocateCapital")  # type: ignore[union-attr]


def test_allocating_above_the_tier_limit_is_rejected() -> None:
    h = with_agents(arena(), "a", allocate=900_000)
    out = h.do("AllocateCapital", agent_id="a", amount=money(100_001))
    assert rejection_of(out) == ("AllocationError", "OVER_TIER_LIMIT")
    assert h.do("AllocateCapital", agent_id="a", amount=money(100_000)).events[0].type == "CapitalAllocated"


@pytest.mark.parametrize("amount", [0, -5, MAX_MINOR + 1, 10**30])
def test_allocation_amount_outside_range_is_rejected(amount: int) -> None:
    h = with_agents(arena(), "a")
    out = h.do("AllocateCapital", agent_id="a", amount=money(amount))
    assert rejection_of(out) == ("AllocationError", "AMOUNT_OUT_OF_RANGE")
    requested = out.events[0].payload.requested  # type: ignore[union-attr]
    assert requested == (amount if abs(amount) <= MAX_MINOR else None)


def test_allocating_to_unknown_or_dead_agents_is_rejected() -> None:
    h = with_agents(arena(), "a")
    assert rejection_of(h.do("AllocateCapital", agent_id="zz", amount=money(1))) == (
        "AllocationError",
        "AGENT_NOT_FOUND",
    )
    h.do("KillAgent", agent_id="a", reason="x")
    assert rejection_of(h.do("AllocateCapital", agent_id="a", amount=money(1))) == (
        "AllocationError",
        "AGENT_NOT_ALIVE",
    )


def test_release_returns_capital_to_the_treasury() -> None:
    h = with_agents(arena(funded=1_000), "a", allocate=800)
    (event,) = h.do("ReleaseCapital", agent_id="a", amount=money(300)).events
    assert [(p.debit, p.credit, p.amount) for p in event.postings] == [("treasury", "agent:a", 300)]
    assert (h.state.treasury, h.state.agents["a"].balance) == (500, 500)


def test_releasing_more_than_the_agent_holds_is_rejected() -> None:
    h = with_agents(arena(funded=1_000), "a", allocate=800)
    assert rejection_of(h.do("ReleaseCapital", agent_id="a", amount=money(801))) == (
        "AllocationError",
        "INSUFFICIENT_AGENT_BALANCE",
    )


def test_releasing_zero_is_rejected() -> None:
    h = with_agents(arena(funded=1_000), "a", allocate=800)
    assert rejection_of(h.do("ReleaseCapital", agent_id="a", amount=money(0))) == (
        "AllocationError",
        "AMOUNT_OUT_OF_RANGE",
    )


# --- RecordPnL ----------------------------------------------------------------------------------


def _pnl(h: Harness, agent_id: str, amount: int, fill_ref: str | None = None, period: int = 1) -> tuple[str, str]:
    out = h.do("RecordPnL", agent_id=agent_id, amount=money(amount), period=period, source="trading", fill_ref=fill_ref)
    event = out.events[0]
    return event.type, getattr(event.payload, "reason", "")


def test_profit_is_credited_from_the_market_and_loss_debited_to_it() -> None:
    h = with_agents(arena(), "a", allocate=1_000)
    h.do("RecordPnL", agent_id="a", amount=money(300), period=1, source="trading")
    loss = h.do("RecordPnL", agent_id="a", amount=money(-500), period=2, source="simulation")
    assert [(p.debit, p.credit, p.amount) for p in h.events[-2].postings] == [("agent:a", "market", 300)]
    assert [(p.debit, p.credit, p.amount) for p in loss.events[0].postings] == [("market", "agent:a", 500)]
    agent = h.state.agents["a"]
    assert (agent.balance, agent.pnl_total, agent.pnl_records, agent.pnl_peak, agent.max_drawdown) == (
        800,
        -200,
        2,
        300,
        500,
    )
    assert h.state.pnl_total == -200


def test_flat_day_is_recorded_without_postings() -> None:
    h = with_agents(arena(), "a", allocate=1_000)
    out = h.do("RecordPnL", agent_id="a", amount=money(0), period=1, source="trading")
    assert out.events[0].type == "PnLRecorded"
    assert out.events[0].postings == ()
    assert h.state.agents["a"].pnl_records == 1


def test_duplicate_fill_is_recorded_once() -> None:
    h = with_agents(arena(), "a", allocate=1_000)
    assert _pnl(h, "a", 100, fill_ref="F-1") == ("PnLRecorded", "")
    assert _pnl(h, "a", 100, fill_ref="F-1") == ("CommandRejected", Reason.DUPLICATE_FILL)
    assert h.state.agents["a"].balance == 1_100
    assert h.state.agents["a"].pnl_records == 1


def test_a_rejected_fill_can_be_recorded_later() -> None:
    h = with_agents(arena(), "a", allocate=100)
    assert _pnl(h, "a", -200, fill_ref="F-9") == ("CommandRejected", Reason.LOSS_EXCEEDS_BALANCE)
    assert _pnl(h, "a", -100, fill_ref="F-9") == ("PnLRecorded", "")


def test_loss_larger_than_the_balance_is_rejected_and_exact_loss_is_accepted() -> None:
    h = with_agents(arena(), "a", allocate=100)
    assert _pnl(h, "a", -101) == ("CommandRejected", Reason.LOSS_EXCEEDS_BALANCE)
    assert _pnl(h, "a", -100) == ("PnLRecorded", "")
    assert h.state.agents["a"].balance == 0


@pytest.mark.parametrize("amount", [MAX_MINOR + 1, -(MAX_MINOR + 1), 10**40])
def test_pnl_beyond_the_exact_range_is_rejected(amount: int) -> None:
    h = with_agents(arena(), "a", allocate=100)
    assert _pnl(h, "a", amount) == ("CommandRejected", Reason.AMOUNT_OUT_OF_RANGE)


def test_profit_that_would_overflow_the_arena_capital_is_rejected() -> None:
    h = with_agents(arena(funded=1_000), "a", allocate=1_000)
    assert _pnl(h, "a", MAX_MINOR - 1_000) == ("PnLRecorded", "")
    assert _pnl(h, "a", 1) == ("CommandRejected", Reason.AMOUNT_OUT_OF_RANGE)


def test_pnl_for_dead_or_unknown_agents_or_in_another_currency_is_rejected() -> None:
    h = with_agents(arena(), "a", allocate=100)
    out = h.do("RecordPnL", agent_id="a", amount=1, currency="USD", period=1, source="trading")
    assert rejection_of(out) == ("CommandRejected", "CURRENCY_MISMATCH")
    assert _pnl(h, "nobody", 1) == ("CommandRejected", Reason.AGENT_NOT_FOUND)
    h.do("KillAgent", agent_id="a", reason="x")
    assert _pnl(h, "a", 1) == ("CommandRejected", Reason.AGENT_NOT_ALIVE)


# --- KillAgent ----------------------------------------------------------------------------------


def test_killing_an_agent_returns_its_capital_to_the_treasury() -> None:
    h = with_agents(arena(funded=1_000), "a", allocate=700)
    (event,) = h.do("KillAgent", agent_id="a", reason="underperforming").events
    assert event.type == "AgentKilled"
    assert event.payload.returned.amount == 700  # type: ignore[union-attr]
    assert [(p.debit, p.credit, p.amount) for p in event.postings] == [("treasury", "agent:a", 700)]
    agent = h.state.agents["a"]
    assert (agent.alive, agent.balance, h.state.treasury, h.state.tier_counts.incubator) == (False, 0, 1_000, 0)


def test_killing_a_dead_agent_is_rejected() -> None:
    h = with_agents(arena(), "a")
    h.do("KillAgent", agent_id="a", reason="x")
    assert rejection_of(h.do("KillAgent", agent_id="a", reason="again")) == ("CommandRejected", "AGENT_NOT_ALIVE")


# --- GraduateAgent ------------------------------------------------------------------------------


def _trade(h: Harness, agent_id: str, *amounts: int) -> None:
    for period, amount in enumerate(amounts):
        h.do("RecordPnL", agent_id=agent_id, amount=money(amount), period=period, source="simulation")


def test_eligible_agent_graduates_one_tier_keeping_its_capital() -> None:
    h = with_agents(arena(), "a", allocate=10_000)
    _trade(h, "a", 100, 100)  # 2 records, 200 bps
    (event,) = h.do("GraduateAgent", agent_id="a").events
    assert event.payload.model_dump(include={"from_tier", "to_tier"}) == {
        "from_tier": "incubator",
        "to_tier": "proving",
    }
    assert h.state.agents["a"].tier == "proving"
    assert h.state.agents["a"].balance == 10_200
    assert (h.state.tier_counts.incubator, h.state.tier_counts.proving) == (0, 1)


def test_graduation_without_enough_records_or_return_is_not_eligible() -> None:
    h = with_agents(arena(), "a", "b", allocate=10_000)
    _trade(h, "a", 500)  # one record only
    _trade(h, "b", 1, 1)  # 2 bps
    assert rejection_of(h.do("GraduateAgent", agent_id="a")) == ("CommandRejected", "NOT_ELIGIBLE")
    assert rejection_of(h.do("GraduateAgent", agent_id="b")) == ("CommandRejected", "NOT_ELIGIBLE")


def test_agents_in_the_last_tier_cannot_graduate() -> None:
    h = with_agents(arena(), "a", tier="arena")
    out = h.do("GraduateAgent", agent_id="a")
    assert rejection_of(out) == ("CommandRejected", "NOT_ELIGIBLE")
    assert out.events[0].payload.error_kind == ErrorKind.GraduationError  # type: ignore[union-attr]


def test_graduating_into_a_full_tier_is_rejected() -> None:
    h = with_agents(arena(), "p1", "p2", tier="proving")
    with_agents(h, "a", allocate=10_000)
    _trade(h, "a", 100, 100)
    assert rejection_of(h.do("GraduateAgent", agent_id="a")) == ("CommandRejected", "TIER_FULL")


# --- MutateAgent --------------------------------------------------------------------------------


def test_mutation_spawns_a_deterministic_child_in_the_incubator() -> None:
    first = with_agents(arena(), "p")
    second = with_agents(arena(), "p")
    outs = [h.do("MutateAgent", parent_id="p", child_id="kid", seed=77) for h in (first, second)]
    assert [e.type for e in outs[0].events] == ["AgentMutated", "AgentSpawned"]
    genomes = [o.events[0].payload.genome for o in outs]  # type: ignore[union-attr]
    assert genomes[0] == genomes[1]
    assert all(abs(genomes[0][g] - v) <= 10 for g, v in {"lookback": 20, "risk": 5}.items())
    child = first.state.agents["kid"]
    assert (child.tier, child.generation, child.parent_id, dict(child.genome)) == ("incubator", 1, "p", genomes[0])


def test_mutation_applies_the_genome_delta() -> None:
    h = with_agents(arena(), "p")
    h.do("MutateAgent", parent_id="p", child_id="kid", seed=1, genome_delta={"new_gene": 7})
    assert h.state.agents["kid"].genome["new_gene"] == 7


def test_mutation_of_a_dead_or_unknown_parent_is_rejected() -> None:
    h = with_agents(arena(), "p")
    assert rejection_of(h.do("MutateAgent", parent_id="nobody", child_id="k", seed=1)) == (
        "CommandRejected",
        "AGENT_NOT_FOUND",
    )
    h.do("KillAgent", agent_id="p", reason="x")
    out = h.do("MutateAgent", parent_id="p", child_id="k", seed=1)
    assert rejection_of(out) == ("CommandRejected", "PARENT_NOT_ALIVE")
    assert out.events[0].payload.error_kind == ErrorKind.EvolutionError  # type: ignore[union-attr]


def test_mutation_into_an_existing_child_id_is_rejected() -> None:
    h = with_agents(arena(), "p", "k")
    assert rejection_of(h.do("MutateAgent", parent_id="p", child_id="k", seed=1)) == ("CommandRejected", "AGENT_EXISTS")


def test_mutation_whose_delta_breaks_the_gene_bounds_is_rejected() -> None:
    h = with_agents(arena(), "p")
    out = h.do("MutateAgent", parent_id="p", child_id="k", seed=1, genome_delta={"risk": 2_000_000})
    assert rejection_of(out) == ("CommandRejected", "INVALID_GENOME")


def test_mutation_into_a_full_incubator_is_rejected() -> None:
    h = with_agents(arena(), "a", "b", "c", "d")
    assert rejection_of(h.do("MutateAgent", parent_id="a", child_id="k", seed=1)) == ("CommandRejected", "TIER_FULL")


# --- envelope and concurrency -------------------------------------------------------------------


def test_envelopes_are_deterministic_contiguous_and_chained() -> None:
    h = with_agents(arena(), "p")
    out = h.do("MutateAgent", parent_id="p", child_id="k", seed=1, command_id="mut-1", correlation_id="corr-9")
    first, second = out.events
    assert (first.event_id, second.event_id) == ("mut-1:0", "mut-1:1")
    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash
    assert {first.causation_id, second.causation_id} == {"mut-1"}
    assert {first.correlation_id, second.correlation_id} == {"corr-9"}
    assert first.occurred_at == 1_700_000_000_000
    assert h.state.last_hash == second.hash


def test_correlation_id_defaults_to_the_command_id() -> None:
    h = arena()
    out = h.do("FundArena", amount=money(1), command_id="fund-7")
    assert out.events[0].correlation_id == "fund-7"


def test_stale_expected_seq_is_rejected_and_current_one_is_accepted() -> None:
    h = arena()
    seq = h.state.last_seq
    assert rejection_of(h.do("FundArena", amount=money(1), expected_seq=seq - 1)) == ("CommandRejected", "SEQ_MISMATCH")
    assert h.do("FundArena", amount=money(1), expected_seq=seq + 1).events[0].type == "ArenaFunded"


def test_execute_refuses_a_command_for_another_arena() -> None:
    with pytest.raises(ValueError, match="executed against"):
        execute(ArenaState.empty("other"), command("FundArena", amount=money(1), arena_id=ARENA))
