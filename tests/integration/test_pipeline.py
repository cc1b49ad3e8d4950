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
from streams.cli import main
from streams.kafka.lag import wait_for_worker
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.processors.dead_letter import decode_dead_letter
from streams.worker.process import running_worker, worker_env
from tests.support.histories import arena_commands, expected_events
from tests.support.kafka_io import read_all

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
        # Lag 0 on both topics: every event is committed and checked, nothing more will come.
        wait_for_worker(settings, f"{prefix}app", timeout_s=180)
        records = read_all(settings, settings.topics.events)
        dead = read_all(settings, settings.topics.dlq)
        alerts = read_all(settings, settings.topics.alerts)

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


def test_a_forged_event_is_said_once_the_arena_is_reported_compromised_and_the_worker_s_events_stay_quiet(
    settings: Settings, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone writes an event into arena.events; the worker goes on with its own chain.

    The alert stream says it once (the forgery's evidence and one ARENA_COMPROMISED naming where it is),
    then nothing for the worker's later events of the arena, which continue the chain from the last good
    event; the audit reports the arena compromised at that offset until the operator disowns the record.
    """
    app_id = f"{prefix}app"
    for name, value in worker_env(settings, app_id, tmp_path).items():
        if name.startswith(("ARENA_", "KAFKA_")):
            monkeypatch.setenv(name, value)
    arena = "arena-forged"
    commands = arena_commands(arena, 3)
    before, after = commands[:4], commands[4:]  # create, fund, spawn, allocate | later PnL and allocations
    honest = expected_events(commands)
    last = decode_event(honest[len(before) - 1])
    forged_doc = orjson.loads(honest[1])  # the ArenaFunded event, replayed as a new one with more money
    forged_doc.update(event_id="forged:0", seq=last.seq + 1, prev_hash=last.hash, causation_id="forged")
    forged_doc["postings"][0]["amount"] = 5_000_000  # the payload still says 1,000,000: money from nowhere
    forged_doc["hash"] = digest(forged_doc)  # a careful forger keeps the hash chain intact
    partition = partition_for(arena, settings.partitions)

    with running_worker(settings, app_id, tmp_path):
        with CommandPublisher(settings) as publisher:
            publisher.publish_many(before)
        wait_for_worker(settings, app_id, timeout_s=120)
        with CommandPublisher(settings, topic=settings.topics.events) as writer:
            writer.publish_raw(arena, orjson.dumps(forged_doc))
        with CommandPublisher(settings) as publisher:
            publisher.publish_many(after)
        # every command decided and every event (the forged one too) checked by the ledger processor
        wait_for_worker(settings, app_id, timeout_s=180)
        events = read_all(settings, settings.topics.events)
        alerts = [decode_alert(r.value) for r in read_all(settings, settings.topics.alerts) if r.value]

    forged_offset = next(r.offset for r in events if r.value and b"forged:0" in r.value)
    where = f"{settings.topics.events}[{partition}]@{forged_offset}"
    assert [(a.check.value, a.event_id) for a in alerts] == [
        ("POSTINGS_MISMATCH_PAYLOAD", "forged:0"),
        ("ARENA_COMPROMISED", "forged:0"),
    ], "said once: the worker's later events of the arena raise nothing"
    evidence, verdict = alerts
    assert "1000000" in evidence.expected and "5000000" in evidence.actual
    assert verdict.message.startswith(
        f"arena {arena} compromised at {where}, first bad event forged:0 (seq {last.seq + 1})"
    )
    assert verdict.source is not None and verdict.source.where() == where
    assert [decode_event(r.value).event_id for r in events if r.value and r.key == arena.encode()] == [
        decode_event(raw).event_id for raw in honest[: len(before)]
    ] + ["forged:0"] + [decode_event(raw).event_id for raw in honest[len(before) :]]

    capsys.readouterr()
    assert main(["audit"]) == 1
    out = capsys.readouterr().out
    rows = {
        line[:32].strip(): line[32:].strip() for line in out.splitlines() if line.startswith("  ") and "!" not in line
    }
    assert rows["no arena compromised"] == "FAILED x1" and rows["postings match payload"] == "FAILED x1"
    assert rows["no seq duplicate"] == "ok" and rows["unbroken hash chain"] == "ok"
    assert f"! COMPROMISED arena {arena} compromised at {where}, first bad event forged:0" in out
    assert f"its chain continued at {settings.topics.events}[{partition}]@{forged_offset + 1}" in out
    assert "live state" in out and "equal" in out.split("live state", 1)[1].splitlines()[0]
    assert main(["audit", "--disown", where]) == 0
    out = capsys.readouterr().out
    assert "AUDIT PASSED" in out and f"disowned (left out on request): {where}" in out
