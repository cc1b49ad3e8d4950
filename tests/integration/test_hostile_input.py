"""Hostile input on a real broker: 10,000 bad messages among real arena histories, every one accounted for.

The messages come from tests/hostile.py (seeded; its promises are checked against the command processor
without a broker in tests/unit/test_hostile_generator.py). Here one real worker must:

* dead-letter every message that is not a routable command, once, with the generator's reason and
  the original key and value intact;
* turn every well-typed but unacceptable command into exactly one typed rejection event;
* decide every valid command exactly as the pure core does (byte for byte, per arena, in order) and
  ignore every exact resend;
* never crash or restart while doing it.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError, Message, Producer

from producers.publisher import CommandPublisher
from schemas.alerts import decode_alert
from schemas.commands import Command, parse_command
from schemas.events import AllocationError, CommandRejected, decode_event
from streams.kafka.lag import LagTimeout, wait_for_worker, wait_for_zero_lag
from streams.kafka.partitioning import PRODUCER_PARTITIONER
from streams.kafka.settings import Settings
from streams.processors.dead_letter import decode_dead_letter
from streams.worker.process import running_worker
from tests.support.histories import core_outcome
from tests.support.hostile import BAD_KINDS, DUPLICATE_KIND, Hostile, Outcome, generate, key_partition
from tests.support.kafka_io import read_all

pytestmark = pytest.mark.integration

SEED = 2026
BAD = 10_000
# Generous: the machine has 2 cores and other suites may share it (alone, the worker catches up in ~15 s).
CATCH_UP_S = 420.0
READY_LINE = "[^Worker]: Ready"


class SideProducer:
    """A plain idempotent producer for what CommandPublisher cannot send: null values, chosen partitions."""

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.topics.commands
        self.sent = 0
        self.errors: list[str] = []
        self._producer = Producer(
            settings.client_config(
                {"enable.idempotence": True, "acks": "all", "partitioner": PRODUCER_PARTITIONER, "linger.ms": 5}
            )
        )

    def send(self, message: Hostile) -> None:
        extra: dict[str, Any] = {} if message.partition is None else {"partition": message.partition}
        while True:
            try:
                self._producer.produce(
                    self.topic, key=message.key, value=message.value, on_delivery=self._report, **extra
                )
                break
            except BufferError:
                self._producer.poll(0.1)
        self.sent += 1
        self._producer.poll(0)

    def flush(self) -> None:
        remaining = self._producer.flush(130)
        assert remaining == 0 and not self.errors, (remaining, self.errors[:5])

    def _report(self, error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            self.errors.append(error.str())


def _expected_partition(message: Hostile, partitions: int) -> int | None:
    if message.partition is not None:
        return message.partition
    return None if message.key is None else key_partition(message.key, partitions)


def _core_streams(messages: list[Hostile]) -> dict[str, list[Command]]:
    """Per arena, in publish order, the commands that must reach the pure core (duplicates included)."""
    streams: dict[str, list[Command]] = defaultdict(list)
    for message in messages:
        if message.reaches_core:
            assert message.value is not None
            command = parse_command(message.value)
            assert command.arena_id == message.arena
            streams[message.arena].append(command)
    return streams


def _table(title: str, counts: Counter[str]) -> str:
    width = max((len(k) for k in counts), default=0)
    rows = "\n".join(f"  {k:<{width}}  {v:>6}" for k, v in sorted(counts.items()))
    return f"{title} (total {sum(counts.values())}):\n{rows}"


def test_ten_thousand_hostile_messages_are_each_accounted_for_and_the_worker_keeps_running(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    messages = list(generate(SEED, bad=BAD, partitions=settings.partitions))
    kinds = Counter(m.kind for m in messages)
    by_outcome = Counter(m.expected.outcome.value for m in messages)
    assert sum(kinds[k] for k in BAD_KINDS) >= BAD and set(BAD_KINDS) <= set(kinds)

    # What must come out, from the generator's promises and from the pure core.
    DeadKey = tuple[str | None, bytes | None, bytes | None, int | None]
    dead_expected: Counter[DeadKey] = Counter(
        (m.expected.reason, m.key, m.value, _expected_partition(m, settings.partitions))
        for m in messages
        if m.expected.outcome is Outcome.DEAD_LETTER
    )
    streams = _core_streams(messages)
    expected_events: dict[str, list[bytes]] = {}
    core_duplicates = 0
    for arena, commands in streams.items():
        expected_events[arena], duplicates = core_outcome(commands)
        core_duplicates += duplicates
    assert core_duplicates == kinds[DUPLICATE_KIND], "the generator's resends are exactly the core's duplicates"
    total_events = sum(len(v) for v in expected_events.values())
    rejected_ids = {
        (m.arena, parse_command(m.value).command_id): (m.expected.event_type, m.expected.reason)
        for m in messages
        if m.expected.outcome is Outcome.REJECTED and m.kind != DUPLICATE_KIND and m.value is not None
    }
    assert len(rejected_ids) == by_outcome[Outcome.REJECTED.value], "every hostile command has its own id"
    valid_ids = {
        (m.arena, parse_command(m.value).command_id)
        for m in messages
        if m.expected.outcome is Outcome.DECIDED and m.value is not None
    }

    app_id = f"{prefix}app"
    began = time.monotonic()
    with running_worker(settings, app_id, tmp_path) as worker:
        started = time.monotonic()
        side = SideProducer(settings)
        with CommandPublisher(settings) as publisher:
            for message in messages:
                if message.value is None or message.partition is not None:
                    side.send(message)
                else:
                    publisher.publish_raw(message.key, message.value)
        side.flush()
        published = publisher.stats.delivered + side.sent
        publish_s = time.monotonic() - started
        try:
            wait_for_worker(settings, app_id, timeout_s=CATCH_UP_S, alive=worker.alive)
        except LagTimeout as exc:
            pytest.fail(f"{exc}\n{worker.log_tail(6000)}")
        caught_up_s = time.monotonic() - started
        # lag 0 on both topics: every event and dead letter is committed, every event checked
        events = read_all(settings, settings.topics.events)
        dead = read_all(settings, settings.topics.dlq)
        alerts = [a for a in read_all(settings, settings.topics.alerts) if a.value]
        alive_at_end = worker.alive()
    log_text = worker.log_path.read_text(errors="replace")
    wall_s = time.monotonic() - began

    # -- figures --
    dead_by_reason: Counter[str] = Counter()
    letters = []
    for record in dead:
        assert record.value is not None
        letter = decode_dead_letter(record.value)
        letters.append((record, letter))
        dead_by_reason[letter.reason] += 1
    decoded = [(r, decode_event(r.value)) for r in events if r.value is not None]
    rejections = Counter(
        f"{e.payload.type}/{e.payload.reason.value}"
        for _r, e in decoded
        if isinstance(e.payload, CommandRejected | AllocationError)
    )
    decided = {(e.arena_id, e.causation_id) for _r, e in decoded}
    print(f"\nhostile input, seed {SEED}: {len(messages)} messages, {sum(len(m.value or b'') for m in messages)} bytes")
    print(_table("published by kind", kinds))
    print(_table("expected outcome", by_outcome))
    print(_table("dead letters by reason", dead_by_reason))
    print(_table("rejection events by reason", rejections))
    print(
        f"published {published} in {publish_s:.1f}s; worker caught up {caught_up_s:.1f}s after the first send; "
        f"{len(events)} events, {len(dead)} dead letters, {len(decided)} commands decided, "
        f"{published - len(dead) - len(decided)} duplicates; {len(alerts)} alerts; wall {wall_s:.1f}s"
    )

    # -- the worker never stopped --
    assert alive_at_end, f"the worker died:\n{log_text[-6000:]}"
    assert log_text.count(READY_LINE) == 1, f"the worker restarted:\n{log_text[-6000:]}"
    assert "Crashed" not in log_text, log_text[-6000:]

    # -- every message was published, and each ended exactly one way --
    assert published == len(messages) and publisher.stats.failed == 0
    assert published == len(dead) + len(decided) + kinds[DUPLICATE_KIND], "the counts do not add up"

    # -- dead letters: each bad message once, with its reason, its bytes and where it came from --
    assert len({(letter.source.partition, letter.source.offset) for _r, letter in letters}) == len(letters)
    for record, letter in letters:
        assert letter.source.topic == settings.topics.commands
        assert letter.source.partition == record.partition, "a dead letter stays on its command's partition"
    dead_actual: Counter[DeadKey] = Counter(
        (
            letter.reason,
            letter.original_key(),
            letter.original_value(),
            None if letter.original_key() is None else letter.source.partition,
        )
        for _r, letter in letters
    )
    missing = dead_expected - dead_actual
    extra = dead_actual - dead_expected
    assert not missing and not extra, (
        f"{sum(missing.values())} expected dead letters missing, e.g. {list(missing)[:3]}; "
        f"{sum(extra.values())} unexpected, e.g. {list(extra)[:3]}"
    )
    expected_by_reason = Counter(
        m.expected.reason for m in messages if m.expected.outcome is Outcome.DEAD_LETTER and m.expected.reason
    )
    assert dead_by_reason == expected_by_reason

    # -- events: exactly the pure core's, per arena, in order; seq contiguous --
    got: dict[str, list[bytes]] = defaultdict(list)
    for record, event in decoded:
        assert record.key == event.arena_id.encode() and record.value is not None
        assert record.partition == key_partition(record.key, settings.partitions), "co-partitioned with commands"
        got[event.arena_id].append(record.value)
    assert len(events) == total_events, f"{len(events)} events, the core decided {total_events}"
    assert set(got) == set(expected_events)
    for arena, expected in expected_events.items():
        assert got[arena] == expected, f"{arena}: the events differ from the pure core's"
        seqs = [decode_event(raw).seq for raw in got[arena]]
        assert seqs == list(range(1, len(seqs) + 1)), f"{arena}: seq not contiguous"

    # -- each hostile command that reached the core: one typed rejection, the promised one --
    outcome_of: dict[tuple[str, str], list[tuple[str, str | None]]] = defaultdict(list)
    for _r, event in decoded:
        payload = event.payload
        reason = payload.reason.value if isinstance(payload, CommandRejected | AllocationError) else None
        outcome_of[(event.arena_id, event.causation_id)].append((payload.type, reason))
    wrong = {
        ids: (promised, outcome_of.get(ids))
        for ids, promised in rejected_ids.items()
        if outcome_of.get(ids) != [promised]
    }
    assert not wrong, f"{len(wrong)} rejections differ from the promise, e.g. {list(wrong.items())[:3]}"
    assert rejections == Counter(f"{t}/{r}" for t, r in rejected_ids.values()) + Counter(
        f"{t}/{r}" for ids, outcomes in outcome_of.items() if ids in valid_ids for t, r in outcomes if r is not None
    )
    assert valid_ids <= set(outcome_of), f"{len(valid_ids - set(outcome_of))} valid commands produced no event"
    assert decided == set(rejected_ids) | valid_ids

    assert [decode_alert(a.value) for a in alerts if a.value] == [], "a clean ledger raises no alert"


def _big_schema_violation(arena: str) -> bytes:
    """~814 KB: a SpawnAgent whose genome is 75,000 integer genes and one float (a wrong type)."""
    genome: dict[str, Any] = {f"g{i}": 1 for i in range(75_000)}
    genome["zz"] = 1.5
    doc = {
        "type": "SpawnAgent",
        "command_id": "big-1",
        "arena_id": arena,
        "issued_at": 1,
        "agent_id": "x",
        "genome": genome,
    }
    return orjson.dumps(doc)


def test_a_big_message_that_must_be_dead_lettered_neither_crashes_nor_blocks_the_worker(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    arena = "arena-big"
    big = _big_schema_violation(arena)
    assert 748_000 < len(big) < 1_000_000, "sendable with the publisher's default limits"
    after = orjson.dumps(
        {
            "type": "CreateArena",
            "command_id": "after-1",
            "arena_id": arena,
            "issued_at": 2,
            "currency": "EUR",
            "seed": 1,
        }
    )
    app_id = f"{prefix}app"
    with running_worker(settings, app_id, tmp_path) as worker:
        with CommandPublisher(settings) as publisher:  # default limits: an engine could send this
            publisher.publish_raw(arena, big)
            publisher.publish_raw(arena, after)
        wait_for_zero_lag(settings, app_id, [settings.topics.commands], timeout_s=120, alive=worker.alive)
        dead = read_all(settings, settings.topics.dlq)
        events = read_all(settings, settings.topics.events)
        assert worker.alive()
    letters = [decode_dead_letter(r.value) for r in dead if r.value]
    assert [letter.reason for letter in letters] == ["SCHEMA_VIOLATION"]
    (letter,) = letters
    assert letter.value_omitted and letter.value_b64 is None, "too big to embed: the source offset leads to it"
    assert letter.value_bytes == len(big) and letter.value_sha256 == hashlib.sha256(big).hexdigest()
    assert letter.source.offset == 0 and letter.value_preview
    assert [decode_event(r.value).causation_id for r in events if r.value] == ["after-1"]
    assert worker.log_path.read_text(errors="replace").count(READY_LINE) == 1
