"""The processors count what they do by kind — the counts /metrics shows — with nothing but dict increments."""

from __future__ import annotations

from schemas.commands import encode_command
from streams.kafka.partitioning import partition_for
from streams.processors.command_processor import CommandProcessor
from streams.processors.dead_letter import SourceRef
from streams.processors.ledger_processor import LedgerProcessor
from streams.store.arena_store import ArenaStore
from streams.store.ledger_store import LedgerStore
from tests.support.builders import ARENA, command, money, small_policies

OWNER = partition_for(ARENA, 4)


def test_commands_are_counted_by_type_and_outcome_with_events_rejections_and_dead_letters_by_kind() -> None:
    processor = CommandProcessor(ArenaStore({}, {}, {}), partitions=4)
    create = encode_command(command("CreateArena", currency="EUR", seed=1, **small_policies()))
    messages = [
        (ARENA.encode(), create),
        (ARENA.encode(), encode_command(command("FundArena", amount=money(1_000)))),
        (ARENA.encode(), create),  # a resend: a duplicate
        (ARENA.encode(), encode_command(command("WithdrawFunds", amount=money(5_000)))),  # beyond the treasury
        (ARENA.encode(), b"{not json"),
        (b"someone-else", encode_command(command("FundArena", amount=money(1)))),  # key is not the arena
    ]
    for offset, (key, value) in enumerate(messages):
        processor.handle(key, value, SourceRef(topic="arena.commands", partition=OWNER, offset=offset))
    counts = processor.counters
    assert counts.by_type_and_outcome == {
        ("CreateArena", "accepted"): 1,
        ("FundArena", "accepted"): 1,
        ("CreateArena", "duplicate"): 1,
        ("WithdrawFunds", "rejected"): 1,
        ("unknown", "dead_lettered"): 1,
        ("FundArena", "dead_lettered"): 1,
    }
    assert sum(counts.by_type_and_outcome.values()) == counts.commands == len(messages)
    assert counts.events_by_type == {"ArenaCreated": 1, "ArenaFunded": 1, "CommandRejected": 1}
    assert counts.rejections_by_reason == {"INSUFFICIENT_TREASURY": 1} and counts.rejections == 1
    assert counts.by_dead_letter_reason == {"INVALID_JSON": 1, "KEY_MISMATCH": 1}


def test_alerts_are_counted_by_check() -> None:
    ledger = LedgerProcessor(LedgerStore({}, {}))
    alerts = ledger.handle(ARENA.encode(), b"not an event", topic="arena.events", partition=OWNER, offset=0)
    assert alerts and ledger.counters.alerts == len(alerts)
    assert ledger.counters.alerts_by_check == {alert.check.value: 1 for alert in alerts}
