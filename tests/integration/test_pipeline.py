"""The pipeline on a real broker: commands in, exactly the pure core's events out, per arena, in order."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from producers.publisher import CommandPublisher
from schemas.alerts import decode_alert
from schemas.commands import encode_command
from schemas.events import decode_event, digest
from streams.config import Settings
from streams.dead_letter import decode_dead_letter
from streams.partitioning import partition_for
from streams.worker_process import running_worker
from tests.integration.histories import arena_commands, expected_events
from tests.integration.kafka_io import read_topic

pytestmark = pytest.mark.integration


def test_arenas_over_partitions_get_exactly_the_core_s_events_in_order(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    arenas = [f"arena-{i}" for i in range(6)]
    assert len({partition_for(a, settings.partitions) for a in arenas}) > 1, "the test must span partitions"
    per_arena = {arena: arena_commands(arena, salt) for salt, arena in enumerate(arenas)}
    # Interleave arenas, resend one command (a retrying engine), and slip in a poison message.
    schedule: list[tuple[str, bytes]] = []
    longest = max(len(c) for c in per_arena.values())
    for i in range(longest):
        for arena in arenas:
            if i < len(per_arena[arena]):
                schedule.append((arena, encode_command(per_arena[arena][i])))
        if i == 5:
            schedule.append((arenas[0], encode_command(per_arena[arenas[0]][3])))  # duplicate
            float_money = {
                "type": "FundArena",
                "command_id": "poison-1",
                "arena_id": arenas[1],
                "issued_at": 1,
                "amount": {"amount": 12.5, "currency": "EUR"},
            }
            schedule.append((arenas[1], orjson.dumps(float_money)))  # poison: money as a float
    expected = {arena: expected_events(per_arena[arena]) for arena in arenas}
    total = sum(len(v) for v in expected.values())

    with running_worker(settings, f"{prefix}app", tmp_path) as worker:
        with CommandPublisher(settings) as publisher:
            for arena, raw in schedule:
                publisher.publish_raw(arena, raw)
        records = read_topic(settings, settings.topics.events, expect_at_least=total, timeout_s=180, settle_s=3)
        dead = read_topic(settings, settings.topics.dlq, expect_at_least=1, timeout_s=30, settle_s=1)
        alerts = read_topic(settings, settings.topics.alerts, settle_s=2, timeout_s=10)

    log_text = worker.log_tail()
    got: dict[str, list[bytes]] = defaultdict(list)
    for record in records:
        assert record.key is not None and record.value is not None
        arena = record.key.decode()
        assert record.partition == partition_for(arena, settings.partitions), "events co-partitioned with commands"
        got[arena].append(record.value)
    assert len(records) == total, f"{len(records)} events, expected {total}\n{log_text[-4000:]}"
    for arena in arenas:
        assert got[arena] == expected[arena], f"{arena}: the events differ from the pure core's decision"
        seqs = [decode_event(v).seq for v in got[arena]]
        assert seqs == list(range(1, len(seqs) + 1))
    rejections = [decode_event(v) for vs in got.values() for v in vs if decode_event(v).type == "AllocationError"]
    assert len(rejections) == len(arenas) and all(r.payload.reason == "INSUFFICIENT_TREASURY" for r in rejections)  # type: ignore[union-attr]

    assert len(dead) == 1, [r.value for r in dead]
    assert dead[0].value is not None
    letter = decode_dead_letter(dead[0].value)
    assert letter.reason == "SCHEMA_VIOLATION" and letter.source.topic == settings.topics.commands
    assert letter.original_value() is not None and b"12.5" in letter.original_value()  # type: ignore[operator]
    assert [decode_alert(a.value) for a in alerts if a.value] == [], "a healthy run raises no alert"
    assert orjson.loads(got[arenas[0]][0])["type"] == "ArenaCreated"


def test_an_event_written_by_hand_that_creates_money_raises_an_alert_with_evidence(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    arena = "arena-forged"
    commands = arena_commands(arena, 3)[:4]  # create, fund, spawn, allocate
    honest = expected_events(commands)
    last = decode_event(honest[-1])
    forged_doc = orjson.loads(honest[1])  # the ArenaFunded event, replayed as a new one with more money
    forged_doc.update(event_id="forged:0", seq=last.seq + 1, prev_hash=last.hash, causation_id="forged")
    forged_doc["postings"][0]["amount"] = 5_000_000  # the payload still says 1,000,000: money from nowhere
    forged_doc["hash"] = digest(forged_doc)  # a careful forger keeps the hash chain intact
    forged = orjson.dumps(forged_doc)

    with running_worker(settings, f"{prefix}app", tmp_path):
        with CommandPublisher(settings) as publisher:
            publisher.publish_many(commands)
        read_topic(settings, settings.topics.events, expect_at_least=len(honest), timeout_s=120, settle_s=1)
        with CommandPublisher(settings, topic=settings.topics.events) as writer:
            writer.publish_raw(arena, forged)
        alerts = [
            decode_alert(r.value)
            for r in read_topic(settings, settings.topics.alerts, expect_at_least=1, timeout_s=60, settle_s=2)
            if r.value
        ]
    assert alerts, "a forged event must raise an alert"
    assert {a.event_id for a in alerts} == {"forged:0"}
    (alert,) = alerts
    assert alert.check.value == "POSTINGS_MISMATCH_PAYLOAD"
    assert "1000000" in alert.expected and "5000000" in alert.actual
    assert alert.arena_id == arena and alert.seq == last.seq + 1
