"""Replay and audit on a real broker: points in the log, tampering, lost local state, old schema versions."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import orjson
import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from producers.publisher import CommandPublisher
from schemas.events import PnLRecorded, decode_event, digest
from streams.cli import main
from streams.domain import ArenaState, evolve, fold
from streams.history.live_state import compare, live_states
from streams.history.replay import Point, parse_point, replay
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import TopicReadError, read_snapshot
from streams.worker.process import running_worker, worker_env
from tests.support.histories import arena_commands
from tests.support.kafka_cluster import KafkaCluster
from tests.support.kafka_io import read_topic

pytestmark = pytest.mark.integration

ARENA = "replay-arena"


def _publish_and_collect(settings: Settings, commands: list, at_least: int) -> list[bytes]:  # type: ignore[type-arg]
    with CommandPublisher(settings) as publisher:
        publisher.publish_many(commands)
    records = read_topic(settings, settings.topics.events, expect_at_least=at_least, settle_s=1)
    return [r.value for r in records if r.value is not None and r.key == ARENA.encode()]


def test_replay_to_offset_k_equals_the_state_after_the_kth_event(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    commands = arena_commands(ARENA, 2)
    with running_worker(settings, f"{prefix}app", tmp_path):
        raw = _publish_and_collect(settings, commands, at_least=len(commands))
    events = [decode_event(v) for v in raw]
    partition = partition_for(ARENA, settings.partitions)
    offsets = [r.offset for r in read_topic(settings, settings.topics.events, expect_at_least=len(events))]
    for k in (1, 5, len(events) // 2, len(events)):
        # The k-th event's offset + 1 is the exclusive end that includes exactly k events.
        end = Point("offsets", offsets=((partition, offsets[k - 1] + 1),))
        state = replay(settings, end=end, arena=ARENA).audit.states[ARENA]
        expected = ArenaState.empty(ARENA)
        for event in events[:k]:
            expected = evolve(expected, event)
        assert state == expected, f"replay to the {k}-th event"


def test_replay_by_time_stops_at_the_first_event_written_after_that_time(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    commands = arena_commands(ARENA, 3)
    first, second = commands[:8], commands[8:]
    with running_worker(settings, f"{prefix}app", tmp_path):
        before = _publish_and_collect(settings, first, at_least=len(first))
        time.sleep(1.5)
        cut = int(time.time() * 1000)
        time.sleep(1.5)
        _publish_and_collect(settings, second, at_least=len(commands))
    at_cut = replay(settings, end=parse_point(f"@{cut}")).audit.states[ARENA]
    assert at_cut == fold([decode_event(v) for v in before])[ARENA]
    assert at_cut.last_seq == len(before)
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut / 1000)) + f".{cut % 1000:03d}Z"
    assert replay(settings, end=parse_point(iso)).audit.states[ARENA] == at_cut


def test_audit_passes_when_healthy_and_fails_naming_a_forged_event(
    settings: Settings, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app_id = f"{prefix}app"
    for name, value in worker_env(settings, app_id, tmp_path).items():
        if name.startswith(("ARENA_", "KAFKA_")):
            monkeypatch.setenv(name, value)
    commands = arena_commands(ARENA, 4)
    with running_worker(settings, app_id, tmp_path):
        raw = _publish_and_collect(settings, commands, at_least=len(commands))
    assert main(["audit"]) == 0
    assert "AUDIT PASSED" in capsys.readouterr().out

    last = decode_event(raw[-1])
    forged = orjson.loads(raw[-1])
    forged.update(event_id="forged:0", seq=last.seq + 1, prev_hash=last.hash)
    forged["payload"]["message"] = "edited after hashing"
    with CommandPublisher(settings, topic=settings.topics.events) as writer:
        writer.publish_raw(ARENA, orjson.dumps(forged))
    assert main(["audit"]) == 1
    out = capsys.readouterr().out
    assert "AUDIT FAILED" in out and "event=forged:0" in out and "HASH_MISMATCH" in out


def test_state_rebuilt_after_deleting_the_worker_s_local_state_equals_the_live_state(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    app_id = f"{prefix}app"
    commands = arena_commands(ARENA, 5)
    half = len(commands) // 2
    with running_worker(settings, app_id, tmp_path):
        _publish_and_collect(settings, commands[:half], at_least=half)
    shutil.rmtree(tmp_path / "worker-data", ignore_errors=True)  # the worker's local state is gone
    with running_worker(settings, app_id, tmp_path):
        _publish_and_collect(settings, commands[half:], at_least=len(commands))
    rebuilt = replay(settings)
    assert rebuilt.audit.passed, rebuilt.audit.problems + [a.message for a in rebuilt.audit.alerts]
    live = live_states(settings, app_id)
    assert compare(rebuilt.audit.states, live) == []
    assert live[ARENA].last_seq == len(commands)  # one event per command in this history


def test_an_event_of_an_older_schema_version_replays_through_its_upcaster(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    commands = arena_commands(ARENA, 6)[:9]  # up to the first PnL
    with running_worker(settings, f"{prefix}app", tmp_path):
        raw = _publish_and_collect(settings, commands, at_least=len(commands))
    last = decode_event(raw[-1])
    pnl = next(decode_event(v) for v in raw if decode_event(v).type == "PnLRecorded")
    old = orjson.loads(pnl.model_dump_json())
    old.update(event_id="legacy:0", seq=last.seq + 1, prev_hash=last.hash, causation_id="legacy", schema_version=1)
    del old["payload"]["source"]  # v1 had no source
    signed = old["payload"]["amount"]  # and, until v3, a bare amount beside the currency
    old["payload"]["amount"], old["payload"]["currency"] = signed["amount"], signed["currency"]
    old.pop("hash")
    old["hash"] = digest(old)  # hashed over the v1 bytes, as a v1 writer did
    with CommandPublisher(settings, topic=settings.topics.events) as writer:
        writer.publish_raw(ARENA, orjson.dumps(old))
    result = replay(settings)
    assert result.audit.passed, [a.message for a in result.audit.alerts] + result.audit.problems
    legacy = result.audit.events[-1]
    assert legacy.event_id == "legacy:0" and isinstance(legacy.payload, PnLRecorded)
    assert legacy.payload.source == "simulation" and legacy.schema_version == 3
    assert legacy.payload.amount == pnl.payload.amount  # type: ignore[union-attr]
    assert result.audit.states[ARENA].last_seq == last.seq + 1


def test_reading_after_retention_starts_at_the_low_watermark_and_refuses_deleted_offsets(
    kafka: KafkaCluster, prefix: str
) -> None:
    topic = f"{prefix}retained"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for n in range(10):
        producer.produce(topic, key=b"k", value=str(n).encode())
    assert producer.flush(30) == 0
    for future in admin.delete_records([TopicPartition(topic, 0, 5)]).values():
        future.result(30)  # as retention would: offsets 0-4 are gone
    settings = kafka.settings(prefix)
    assert [r.value for r in read_snapshot(settings, topic)] == [str(n).encode() for n in range(5, 10)]
    with pytest.raises(TopicReadError, match="starts at offset 5"):
        list(read_snapshot(settings, topic, start={0: 0}))


def test_a_command_to_an_arena_nobody_created_leaves_the_audit_passing_and_the_views_agreeing(
    settings: Settings, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The new user's first command, produced the way kcat does (librdkafka, murmur2_random), to an arena
    that does not exist: its ARENA_NOT_FOUND refusal is an event, and the tables hold its header."""
    app_id = f"{prefix}app"
    for name, value in worker_env(settings, app_id, tmp_path).items():
        if name.startswith(("ARENA_", "KAFKA_")):
            monkeypatch.setenv(name, value)
    line = (
        b'{"command_id":"nope1-c1","arena_id":"nope1","issued_at":1,"type":"FundArena",'
        b'"amount":{"amount":1,"currency":"USD"}}'
    )
    with running_worker(settings, app_id, tmp_path):
        producer = Producer(settings.client_config({"partitioner": "murmur2_random"}))
        producer.produce(settings.topics.commands, key=b"nope1", value=line)
        assert producer.flush(30) == 0
        (record,) = read_topic(settings, settings.topics.events, expect_at_least=1, timeout_s=120, settle_s=1)
    assert orjson.loads(record.value or b"")["payload"]["reason"] == "ARENA_NOT_FOUND"
    capsys.readouterr()

    assert main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "AUDIT PASSED" in out and "not in the event topic" not in out

    assert main(["replay", "--arena", "nope1"]) == 0
    printed = capsys.readouterr()
    assert "arena nope1 (not created)  seq 1" in printed.out and "(no arena)" not in printed.out
    # not a terminal: no progress for a short read, then one summary with the events read and the end
    (summary,) = printed.err.splitlines()
    partition = partition_for("nope1", settings.partitions)
    assert summary.startswith(f"replayed 1 event of {settings.topics.events} up to ")
    assert f"{partition}:{record.offset + 2}" in summary, "the end as --to takes it (the commit marker included)"
    assert summary.endswith("PASS: every check held over 1 event of 1 arena")
    assert main(["replay", "--arena", "nope1", "--json"]) == 0
    document = orjson.loads(capsys.readouterr().out)
    assert list(document["arenas"]) == ["nope1"] and document["arenas"]["nope1"]["header"]["exists"] is False
