"""An arena's allocation breakdown is a pure function of its state: totals, tiers, agents, conservation."""

from __future__ import annotations

import json
import re
from pathlib import Path

from schemas.commands import Command, parse_command
from schemas.money import Money
from schemas.queries import ServedBy
from streams.domain import ArenaState, Book, execute
from streams.domain.breakdown import agent_detail, agents_of, breakdown_of, summary_of
from tests.support.builders import command, money, small_policies

ARENA = "bd-1"
SERVED = ServedBy(worker="http://127.0.0.1:1", partition=0, committed=True)


def _run(*commands: Command) -> tuple[ArenaState, Book]:
    state, book = ArenaState.empty(ARENA), Book()
    for cmd in commands:
        outcome = execute(state, cmd)
        state = outcome.state
        for event in outcome.events:
            assert book.apply(event) == []
    return state, book


def _arena() -> tuple[ArenaState, Book]:
    return _run(
        command("CreateArena", arena_id=ARENA, currency="EUR", seed=1, **small_policies()),
        command("FundArena", arena_id=ARENA, amount=money(1_000_000)),
        command("WithdrawFunds", arena_id=ARENA, amount=money(50_000)),
        command("SpawnAgent", arena_id=ARENA, agent_id="a0", genome={"exposure_bps": 100}),
        command("SpawnAgent", arena_id=ARENA, agent_id="a1", genome={"exposure_bps": 200}),
        command("AllocateCapital", arena_id=ARENA, agent_id="a0", amount=money(100_000)),
        command("AllocateCapital", arena_id=ARENA, agent_id="a1", amount=money(40_000)),
        command("RecordPnL", arena_id=ARENA, agent_id="a0", amount=money(2_500), period=1, source="trading"),
        command("RecordPnL", arena_id=ARENA, agent_id="a0", amount=money(-1_000), period=2, source="trading"),
        command("MutateAgent", arena_id=ARENA, parent_id="a0", child_id="a0-c1", seed=3),
        command("KillAgent", arena_id=ARENA, agent_id="a1", reason="test"),
    )


def test_the_breakdown_adds_up_to_the_state_and_names_its_seq() -> None:
    state, book = _arena()
    answer = breakdown_of(state, SERVED, book.find(ARENA))
    assert answer.seq == state.last_seq and answer.served_by == SERVED and answer.status == "active"
    assert answer.treasury is not None and answer.treasury.amount == state.treasury
    assert (answer.funded, answer.withdrawn) == (
        Money(amount=1_000_000, currency="EUR"),
        Money(amount=50_000, currency="EUR"),
    )
    assert answer.pnl is not None and answer.pnl.amount == 1_500
    assert answer.allocated is not None and answer.allocated.amount == 101_500  # a1's capital went back
    assert [t.tier for t in answer.tiers] == ["incubator", "proving", "arena"]
    assert sum(t.capital.amount for t in answer.tiers) == answer.allocated.amount
    assert [t.agents_alive for t in answer.tiers] == [2, 0, 0]
    assert (answer.agents.alive, answer.agents.killed, answer.agents.total) == (2, 1, 3)
    assert answer.conservation is not None and answer.conservation.holds
    assert answer.conservation.treasury_plus_allocated.amount == 1_000_000 - 50_000 + 1_500
    assert answer.ledger is not None and answer.ledger.seq == state.last_seq and answer.ledger.agrees is True


def test_a_ledger_behind_the_state_is_reported_as_behind_not_as_a_disagreement() -> None:
    state, book = _arena()
    ahead = execute(state, command("FundArena", arena_id=ARENA, amount=money(1))).state
    answer = breakdown_of(ahead, SERVED, book.find(ARENA))
    assert answer.ledger is not None and answer.ledger.seq == state.last_seq and answer.ledger.agrees is None
    assert breakdown_of(ahead, SERVED, None).ledger is None


def test_a_breakdown_whose_ledger_totals_differ_says_they_disagree() -> None:
    state, book = _arena()
    arena_book = book.find(ARENA)
    assert arena_book is not None
    arena_book.treasury += 1
    answer = breakdown_of(state, SERVED, arena_book)
    assert answer.ledger is not None and answer.ledger.agrees is False


def test_an_arena_never_created_has_no_money_and_says_so() -> None:
    state, _ = _run(command("FundArena", arena_id=ARENA, amount=money(5)))
    assert state.on_record and not state.exists
    answer = breakdown_of(state, SERVED)
    assert answer.status == "not_created" and answer.seq == 1
    assert answer.treasury is None and answer.tiers == [] and answer.conservation is None
    summary = summary_of(state, SERVED)
    assert summary.status == "not_created" and summary.treasury is None and summary.currency is None


def test_agents_filter_by_tier_and_status_in_id_order() -> None:
    state, _ = _arena()
    assert [a.agent_id for a in agents_of(state)[1]] == ["a0", "a0-c1", "a1"]
    assert [a.agent_id for a in agents_of(state, status="killed")[1]] == ["a1"]
    assert [a.agent_id for a in agents_of(state, tier="incubator", status="alive")[1]] == ["a0", "a0-c1"]
    assert agents_of(state, tier="arena") == (0, [])
    assert agents_of(state, limit=1) == (3, agents_of(state)[1][:1])
    killed = agents_of(state, status="killed")[1][0]
    assert killed.balance.amount == 0 and killed.status == "killed"


def test_an_agent_s_detail_has_its_fitness_pnl_summary_parent_and_children() -> None:
    state, _ = _arena()
    parent = agent_detail(state, "a0")
    assert parent is not None
    assert parent.children == ["a0-c1"] and parent.parent_id is None
    assert parent.pnl.total.amount == 1_500 and parent.pnl.records == 2
    assert parent.pnl.peak.amount == 2_500 and parent.pnl.max_drawdown.amount == 1_000
    assert parent.fitness.records == 2 and parent.fitness.return_bps == 1_500 * 10_000 // 100_000
    assert parent.balance.amount == 101_500 and parent.allocated_total.amount == 100_000
    child = agent_detail(state, "a0-c1")
    assert child is not None and child.parent_id == "a0" and child.generation == 1 and child.children == []
    assert agent_detail(state, "nobody") is None


def test_the_readme_s_example_breakdown_is_what_the_core_gives_for_the_contract_page_s_commands() -> None:
    root = Path(__file__).resolve().parents[2]
    page = (root / "schemas" / "README.md").read_text(encoding="utf-8")
    commands = [parse_command(value.encode()) for value in re.findall(r"printf '%s\\t%s\\n' \S+ '(\{.*\})'", page)]
    readme = (root / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- breakdown-example -->\n```json\n(.*?)\n```", readme, re.DOTALL)
    assert found, "no example after <!-- breakdown-example -->"
    example = json.loads(found.group(1))
    state, book = ArenaState.empty("demo"), Book()
    for cmd in commands:
        outcome = execute(state, cmd)
        state = outcome.state
        for event in outcome.events:
            book.apply(event)
    served = ServedBy.model_validate(example["served_by"])
    assert breakdown_of(state, served, book.find("demo")).model_dump(mode="json") == example
