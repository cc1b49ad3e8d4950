"""Small builders for commands and a harness that runs them through the core and the book."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from schemas.alerts import ConservationAlert
from schemas.commands import Command, parse_command
from schemas.events import Event, decode_event_with_digest, encode_event
from streams.domain import ArenaState, Book, Outcome, execute

ARENA = "arena-1"
EUR = "EUR"
_ids = itertools.count(1)


def money(amount: int, currency: str = EUR) -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def command(type_: str, *, arena_id: str = ARENA, command_id: str | None = None, **fields: Any) -> Command:
    """Build a command through the real wire path (bytes -> parse_command)."""
    doc = {
        "type": type_,
        "command_id": command_id or f"cmd-{next(_ids)}",
        "arena_id": arena_id,
        "issued_at": 1_700_000_000_000,
        **fields,
    }
    # json, not orjson: tests send integers beyond 64 bits, which orjson refuses to write
    return parse_command(json.dumps(doc).encode())


def small_policies() -> dict[str, Any]:
    return {
        "tier_policy": {
            "incubator": {"max_agents": 4, "max_allocation": 1_000_000, "budget_bps": 3_000},
            "proving": {"max_agents": 2, "max_allocation": 2_000_000, "budget_bps": 3_000},
            "arena": {"max_agents": 1, "max_allocation": 5_000_000, "budget_bps": 3_000},
        },
        "evolution_policy": {
            "min_records": 2,
            "kill_bottom_bps": 2_500,
            "max_drawdown_bps": 5_000,
            "to_proving": {"min_records": 2, "min_return_bps": 100},
            "to_arena": {"min_records": 3, "min_return_bps": 200},
            "target_population": 4,
            "mutation_step": 10,
            "command_id_window": 1_000,
            "fill_ref_window": 1_000,
        },
    }


@dataclass
class Harness:
    """Runs commands like the processors will: execute, encode, decode, book-check every event."""

    state: ArenaState = field(default_factory=lambda: ArenaState.empty(ARENA))
    book: Book = field(default_factory=Book)
    events: list[Event] = field(default_factory=list)
    alerts: list[ConservationAlert] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def run(self, cmd: Command) -> Outcome:
        outcome = execute(self.state, cmd)
        for event in outcome.events:
            decoded, digest = decode_event_with_digest(encode_event(event))
            assert decoded == event
            self.alerts.extend(self.book.apply(decoded, digest))
            self.events.append(event)
        self.state = outcome.state
        return outcome

    def do(self, type_: str, **fields: Any) -> Outcome:
        """Run a command; ids come from this harness, so equal scripts give equal histories."""
        fields.setdefault("command_id", f"h-{next(self.counter)}")
        return self.run(command(type_, **fields))

    def payloads(self, outcome: Outcome) -> list[Any]:
        return [event.payload for event in outcome.events]


def arena(*, funded: int = 10_000_000, policies: dict[str, Any] | None = None, seed: int = 42) -> Harness:
    h = Harness()
    h.do("CreateArena", currency=EUR, seed=seed, **(policies if policies is not None else small_policies()))
    if funded:
        h.do("FundArena", amount=money(funded))
    return h


def with_agents(h: Harness, *agent_ids: str, allocate: int = 0, tier: str = "incubator") -> Harness:
    for agent_id in agent_ids:
        h.do("SpawnAgent", agent_id=agent_id, genome={"lookback": 20, "risk": 5}, tier=tier)
        if allocate:
            h.do("AllocateCapital", agent_id=agent_id, amount=money(allocate))
    return h


def rejection_of(outcome: Outcome) -> tuple[str, str]:
    """(payload type, reason) of a single-event rejection outcome."""
    assert len(outcome.events) == 1, [e.type for e in outcome.events]
    payload = outcome.events[0].payload
    assert payload.type in ("CommandRejected", "AllocationError"), payload.type
    return payload.type, payload.reason.value
