"""Random command sequences against the invariants that must hold after every single step."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from schemas.commands import Command, parse_command
from schemas.events import Event, decode_event_with_digest, encode_event
from schemas.money import MAX_MINOR
from streams.domain import ArenaState, Book, execute, fold, from_rows, state_problems, to_rows
from tests.support.builders import small_policies

ARENA = "sm-arena"
AGENT_POOL = ["a0", "a1", "a2", "a3", "a4"]
FILLS = ["f0", "f1", "f2"]

boundary_amounts = st.sampled_from([0, 1, 2, MAX_MINOR - 1, MAX_MINOR, 2**53, -1, -(2**53), 10**30, -(10**30)])
amounts = st.one_of(boundary_amounts, st.integers(1, 300_000), st.integers(1, 300_000))
pnl_amounts = st.one_of(boundary_amounts, st.integers(-200_000, 200_000), st.integers(-50_000, 80_000))
currencies = st.sampled_from(["EUR"] * 9 + ["USD"])
genomes = st.one_of(
    st.dictionaries(st.sampled_from(["alpha", "beta", "gamma"]), st.integers(-1_000_000, 1_000_000), max_size=3),
    st.just({"Bad": 1}),
    st.just({"alpha": 1_000_001}),
    st.just({f"g{i}": 0 for i in range(17)}),
)


def _wide_policies() -> dict[str, Any]:
    tier = {"max_agents": 3, "max_allocation": MAX_MINOR, "budget_bps": 3_000}
    return {
        "tier_policy": {"incubator": tier, "proving": tier, "arena": tier},
        "evolution_policy": {
            "min_records": 1,
            "kill_bottom_bps": 5_000,
            "max_drawdown_bps": 1_000,
            "to_proving": {"min_records": 1, "min_return_bps": 1},
            "target_population": 5,
            "command_id_window": 8,
            "fill_ref_window": 2,
        },
    }


class ArenaMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.state = ArenaState.empty(ARENA)
        self.book = Book()
        self.events: list[Event] = []
        self.sent: list[bytes] = []
        self.next_id = 0

    # --- plumbing ---

    def _send(self, type_: str, **fields: Any) -> None:
        self.next_id += 1
        doc = {
            "type": type_,
            "command_id": f"sm-{self.next_id}",
            "arena_id": ARENA,
            "issued_at": self.next_id,
            **fields,
        }
        raw = json.dumps(doc).encode()
        self.sent.append(raw)
        self._run(parse_command(raw))

    def _run(self, command: Command) -> None:
        outcome = execute(self.state, command)
        again = execute(self.state, command)
        assert [encode_event(e) for e in again.events] == [encode_event(e) for e in outcome.events]
        assert again.state == outcome.state
        for event in outcome.events:
            decoded, written = decode_event_with_digest(encode_event(event))
            assert decoded == event
            alerts = self.book.apply(decoded, written)
            assert alerts == [], alerts
        if outcome.duplicate:
            assert outcome.events == ()
            assert outcome.state is self.state
        else:
            assert len(outcome.events) >= 1
        self.events.extend(outcome.events)
        self.state = outcome.state

    def _agent(self, data: st.DataObject) -> str:
        known = sorted(self.state.agents.keys())
        return data.draw(st.sampled_from(AGENT_POOL + known[:2] + known[-2:]))

    # --- commands ---

    @initialize(policy=st.sampled_from(["small", "default", "wide", "none"]), seed=st.integers(0, MAX_MINOR))
    def open_arena(self, policy: str, seed: int) -> None:
        """Most runs start with a funded arena and a few agents, so later rules reach deep states."""
        if policy == "none":
            return
        self.create(policy, seed)
        self._send("FundArena", amount={"amount": 10_000_000, "currency": "EUR"})
        for agent_id in AGENT_POOL[:3]:
            self._send("SpawnAgent", agent_id=agent_id, genome={"alpha": 1, "beta": -1})
            self._send("AllocateCapital", agent_id=agent_id, amount={"amount": 500_000, "currency": "EUR"})

    @rule(policy=st.sampled_from(["small", "default", "wide"]), seed=st.integers(0, MAX_MINOR))
    def create(self, policy: str, seed: int) -> None:
        extra = {"small": small_policies(), "default": {}, "wide": _wide_policies()}[policy]
        self._send("CreateArena", currency="EUR", seed=seed, **extra)

    @rule(amount=amounts, currency=currencies)
    def fund(self, amount: int, currency: str) -> None:
        self._send("FundArena", amount={"amount": amount, "currency": currency})

    @rule(amount=amounts)
    def withdraw(self, amount: int) -> None:
        self._send("WithdrawFunds", amount={"amount": amount, "currency": "EUR"})

    @rule(data=st.data(), genome=genomes, tier=st.sampled_from(["incubator", "incubator", "proving", "arena"]))
    def spawn(self, data: st.DataObject, genome: dict[str, int], tier: str) -> None:
        self._send("SpawnAgent", agent_id=self._agent(data), genome=genome, tier=tier)

    @rule(data=st.data(), amount=amounts)
    def allocate(self, data: st.DataObject, amount: int) -> None:
        self._send("AllocateCapital", agent_id=self._agent(data), amount={"amount": amount, "currency": "EUR"})

    @rule(data=st.data(), amount=amounts)
    def release(self, data: st.DataObject, amount: int) -> None:
        self._send("ReleaseCapital", agent_id=self._agent(data), amount={"amount": amount, "currency": "EUR"})

    @rule(data=st.data(), amount=pnl_amounts, currency=currencies, fill=st.none() | st.sampled_from(FILLS))
    def record_pnl(self, data: st.DataObject, amount: int, currency: str, fill: str | None) -> None:
        self._send(
            "RecordPnL",
            agent_id=self._agent(data),
            amount=amount,
            currency=currency,
            period=self.next_id,
            source="trading",
            fill_ref=fill,
        )

    @rule(data=st.data(), amount=st.integers(-100_000, 100_000))
    def trading_day(self, data: st.DataObject, amount: int) -> None:
        """Ordinary PnL, weighted up so that agents get judged, promoted and culled."""
        self._send(
            "RecordPnL",
            agent_id=self._agent(data),
            amount=amount,
            currency="EUR",
            period=self.next_id,
            source="simulation",
        )

    @rule(moves=st.lists(st.integers(-300_000, 150_000), min_size=6, max_size=6))
    def season(self, moves: list[int]) -> None:
        """A PnL record for up to six alive agents, then the next cycle judges them."""
        alive = [a.agent_id for a in self.state.alive_agents()][:6]
        for agent_id, amount in zip(alive, moves, strict=False):
            self._send(
                "RecordPnL", agent_id=agent_id, amount=amount, currency="EUR", period=self.next_id, source="trading"
            )
        self._send("RunEvolutionCycle", cycle=self.state.last_cycle + 1)

    @rule(data=st.data())
    def kill(self, data: st.DataObject) -> None:
        self._send("KillAgent", agent_id=self._agent(data), reason="state machine")

    @rule(data=st.data())
    def graduate(self, data: st.DataObject) -> None:
        self._send("GraduateAgent", agent_id=self._agent(data))

    @rule(data=st.data(), seed=st.integers(0, 1_000), delta=st.none() | genomes)
    def mutate(self, data: st.DataObject, seed: int, delta: dict[str, int] | None) -> None:
        self._send(
            "MutateAgent", parent_id=self._agent(data), child_id=self._agent(data), seed=seed, genome_delta=delta
        )

    @rule(step=st.sampled_from([-1, 0, 1, 1, 2]))
    def evolve_cycle(self, step: int) -> None:
        self._send("RunEvolutionCycle", cycle=max(1, self.state.last_cycle + step))

    @rule(data=st.data())
    def resend(self, data: st.DataObject) -> None:
        if self.sent:
            self._run(parse_command(data.draw(st.sampled_from(self.sent[-12:]))))

    @rule(offset=st.sampled_from([-1, 0, 1]))
    def fund_with_expected_seq(self, offset: int) -> None:
        expected = max(0, self.state.last_seq + offset)
        self._send("FundArena", amount={"amount": 5, "currency": "EUR"}, expected_seq=expected)

    # --- invariants ---

    @invariant()
    def money_is_conserved(self) -> None:
        assert state_problems(self.state) == []

    @invariant()
    def the_book_agrees_with_the_state(self) -> None:
        book = self.book.arena(ARENA)
        assert sum(book.balances.values()) == 0
        assert book.balance("treasury") == self.state.treasury
        assert (book.funded, book.withdrawn, book.pnl) == (
            self.state.funded_total,
            self.state.withdrawn_total,
            self.state.pnl_total,
        )
        for agent in self.state.agents.values():
            assert book.balance(f"agent:{agent.agent_id}") == agent.balance
        assert book.last_seq == self.state.last_seq
        assert book.last_hash == self.state.last_hash

    @invariant()
    def replay_rebuilds_the_same_state(self) -> None:
        assert fold(self.events).get(ARENA, ArenaState.empty(ARENA)) == self.state

    @invariant()
    def rows_round_trip(self) -> None:
        assert from_rows(to_rows(self.state)) == self.state


ArenaMachine.TestCase.settings = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestArenaMachine = ArenaMachine.TestCase
