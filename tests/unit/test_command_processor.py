"""The command processor's routing and persistence, without a broker (dict tables stand in for Faust's)."""

from __future__ import annotations

import itertools

import orjson
import pytest

from schemas.commands import encode_command
from schemas.events import Event, decode_event
from streams.kafka.partitioning import partition_for
from streams.processors.command_processor import CommandProcessor
from streams.processors.dead_letter import SourceRef, decode_dead_letter
from streams.store.arena_store import ArenaStore
from tests.support.builders import ARENA, command, money, small_policies

PARTITIONS = 4
OWNER = partition_for(ARENA, PARTITIONS)


def _processor() -> tuple[CommandProcessor, dict[str, object], dict[str, object], dict[str, object]]:
    headers: dict[str, object] = {}
    agents: dict[str, object] = {}
    windows: dict[str, object] = {}
    return CommandProcessor(ArenaStore(headers, agents, windows), partitions=PARTITIONS), headers, agents, windows


def _at(offset: int, partition: int = OWNER) -> SourceRef:
    return SourceRef(topic="arena.commands", partition=partition, offset=offset)


def _setup_commands() -> list[bytes]:
    return [
        encode_command(command("CreateArena", currency="EUR", seed=1, **small_policies())),
        encode_command(command("FundArena", amount=money(1_000_000))),
        encode_command(command("SpawnAgent", agent_id="a1", genome={"exposure_bps": 100})),
        encode_command(command("AllocateCapital", agent_id="a1", amount=money(5_000))),
    ]


def test_valid_commands_become_hash_chained_events_with_contiguous_seq() -> None:
    processor, *_ = _processor()
    events: list[Event] = []
    for offset, raw in enumerate(_setup_commands()):
        handled = processor.handle(ARENA.encode(), raw, _at(offset))
        assert handled.dead_letter is None
        events.extend(decode_event(e) for e in handled.events)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))


def test_state_rebuilt_from_the_tables_equals_the_cached_state() -> None:
    processor, headers, agents, windows = _processor()
    for offset, raw in enumerate(_setup_commands()):
        processor.handle(ARENA.encode(), raw, _at(offset))
    live = processor.store.load(ARENA)
    rebuilt = ArenaStore(headers, agents, windows).load(ARENA)
    assert rebuilt == live
    assert set(agents) == {f"{ARENA}\x1fa1"}, "only per-agent rows, no per-arena blob"


def test_a_repeated_command_yields_nothing_new() -> None:
    processor, *_ = _processor()
    raws = _setup_commands()
    for offset, raw in enumerate(raws):
        processor.handle(ARENA.encode(), raw, _at(offset))
    again = processor.handle(ARENA.encode(), raws[-1], _at(99))
    assert again.duplicate and not again.events and again.dead_letter is None


def test_poison_messages_are_dead_lettered_with_reason_and_origin_and_processing_continues() -> None:
    processor, *_ = _processor()
    raws = _setup_commands()
    processor.handle(ARENA.encode(), raws[0], _at(0))
    poison = b'{"type": "FundArena", "amount": '
    handled = processor.handle(ARENA.encode(), poison, _at(1))
    assert handled.dead_letter is not None and not handled.events
    letter = decode_dead_letter(handled.dead_letter)
    assert letter.reason == "INVALID_JSON"
    assert (letter.source.partition, letter.source.offset) == (OWNER, 1)
    assert letter.original_value() == poison
    assert processor.handle(ARENA.encode(), raws[1], _at(2)).events, "the next valid command is processed"


def test_routing_errors_are_dead_lettered_not_processed() -> None:
    processor, *_ = _processor()
    create = _setup_commands()[0]
    cases = {
        "NULL_KEY": (None, create, OWNER),
        "NULL_VALUE": (ARENA.encode(), None, OWNER),
        "KEY_MISMATCH": (b"another-arena", create, OWNER),
        "WRONG_PARTITION": (ARENA.encode(), create, (OWNER + 1) % PARTITIONS),
        "NOT_UTF8": (ARENA.encode(), b"\xff\xfe{}", OWNER),
        "UNKNOWN_TYPE": (ARENA.encode(), orjson.dumps({"type": "Teleport"}), OWNER),
    }
    for offset, (expected, (key, value, partition)) in enumerate(cases.items()):
        handled = processor.handle(key, value, _at(offset, partition))
        assert handled.dead_letter is not None, expected
        assert decode_dead_letter(handled.dead_letter).reason == expected
    assert processor.store.arenas() == {}, "nothing refused may reach the state"
    assert processor.counters.dead_letters == len(cases)


def test_a_rejection_is_an_event_not_a_dead_letter() -> None:
    processor, *_ = _processor()
    handled = processor.handle(ARENA.encode(), encode_command(command("FundArena", amount=money(5))), _at(0))
    assert handled.rejected and handled.dead_letter is None
    (event,) = [decode_event(e) for e in handled.events]
    assert event.type == "CommandRejected"


def test_an_arena_still_recovering_does_not_stop_another_arena_from_loading() -> None:
    processor, headers, agents, windows = _processor()
    for offset, raw in enumerate(_setup_commands()):
        processor.handle(ARENA.encode(), raw, _at(offset))
    # A second arena whose rows are half-read: Faust still recovering the partition it was just given.
    other = "arena-recovering"
    headers[other] = dict(headers[ARENA])  # type: ignore[call-overload]
    for key in [k for k in windows if k.startswith(ARENA)]:
        windows[key.replace(ARENA, other, 1)] = windows[key]
    windows.pop(next(k for k in windows if k.startswith(other)))  # one window row not read yet
    fresh = ArenaStore(headers, agents, windows)
    assert fresh.load(ARENA) == processor.store.load(ARENA)
    with pytest.raises(ValueError, match="window"):
        fresh.load(other)  # needed now, and still inconsistent: a real error, never a silent guess
