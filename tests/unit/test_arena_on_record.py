"""One definition of which arenas exist for the audit: the replay, the live tables and the views agree.

A command to an arena nobody created is refused with ARENA_NOT_FOUND, and that refusal is an event:
the arena has a seq, a hash chain and an idempotency window, in the topic and in the tables, though
it holds nothing. It is "on record" without being "created".
"""

from __future__ import annotations

import orjson

from schemas.commands import encode_command
from schemas.events import encode_event
from streams.history.audit import audit_records
from streams.history.live_state import compare
from streams.history.state_view import state_json, state_table
from streams.kafka.partitioning import partition_for
from streams.kafka.topic_reader import TopicRecord
from streams.processors.command_processor import CommandProcessor
from streams.processors.dead_letter import SourceRef
from streams.store.arena_store import ArenaStore
from tests.support.builders import command, money

PARTITIONS = 4
GHOST = "nope1"


def _worker_after_one_command_to_a_ghost() -> tuple[ArenaStore, list[TopicRecord]]:
    """The worker's tables and its event records after one FundArena to an arena nobody created."""
    headers: dict[str, object] = {}
    agents: dict[str, object] = {}
    windows: dict[str, object] = {}
    processor = CommandProcessor(ArenaStore(headers, agents, windows), partitions=PARTITIONS)
    partition = partition_for(GHOST, PARTITIONS)
    fund = command("FundArena", arena_id=GHOST, command_id="nope1-c1", amount=money(1, "USD"))
    source = SourceRef(topic="c", partition=partition, offset=0)
    handled = processor.handle(GHOST.encode(), encode_command(fund), source)
    assert len(handled.events) == 1 and handled.rejected
    records = [TopicRecord(partition, 0, 0, GHOST.encode(), raw) for raw in handled.events]
    return ArenaStore(headers, agents, windows), records  # read back as `arena audit` reads the changelogs


def test_an_arena_known_only_from_a_rejection_is_on_record_in_the_replay_and_in_the_live_tables() -> None:
    live_store, records = _worker_after_one_command_to_a_ghost()
    rebuilt = audit_records(records).states
    live = live_store.arenas()
    assert set(rebuilt) == set(live) == {GHOST}
    assert not rebuilt[GHOST].exists and rebuilt[GHOST].on_record
    assert compare(rebuilt, live) == []


def test_a_difference_in_a_never_created_arena_is_still_found() -> None:
    live_store, records = _worker_after_one_command_to_a_ghost()
    rebuilt = audit_records(records).states
    assert [d.what for d in compare(rebuilt, {})] == ["in the event topic but not in the live tables"]
    assert [d.what for d in compare({}, live_store.arenas())] == ["in the live tables but not in the event topic"]


def test_the_table_and_the_json_show_the_same_arenas() -> None:
    _, records = _worker_after_one_command_to_a_ghost()
    states = audit_records(records).states
    document = state_json(states)
    table = state_table(states)
    assert set(document) == {GHOST} and document[GHOST]["header"]["exists"] is False
    assert GHOST in table and "not created" in table and "(no arena)" not in table
    assert "seq 1" in table


def test_no_arena_at_all_is_said_in_both_views() -> None:
    assert state_json({}) == {}
    assert state_table({}) == "(no arena)"


def test_the_rejection_that_put_the_arena_on_record_is_an_ordinary_event() -> None:
    _, records = _worker_after_one_command_to_a_ghost()
    doc = orjson.loads(records[0].value or b"")
    assert (doc["type"], doc["payload"]["reason"], doc["seq"]) == ("CommandRejected", "ARENA_NOT_FOUND", 1)
    assert encode_event(audit_records(records).events[0]) == records[0].value
