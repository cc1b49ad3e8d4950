"""`arena tail` and `arena alerts`: one readable line per record, from a snapshot or following live.

Lines are meant for people and grep: where the record is (partition@offset), whose it is (arena),
what it is (type, reason or check), and the detail that matters. `--json` prints the raw value
instead, for jq.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaError, TopicPartition

from schemas.alerts import decode_alert
from schemas.events import EventDecodeError, decode_event
from streams.kafka.clients import new_consumer
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import TopicReadError, TopicRecord, end_offsets, partitions_of, read_snapshot
from streams.processors.dead_letter import decode_dead_letter

Formatter = Callable[[TopicRecord], str]


def format_event(record: TopicRecord) -> str:
    try:
        event = decode_event(record.value or b"")
    except EventDecodeError as exc:
        return f"{record.partition}@{record.offset} UNREADABLE {exc}"
    payload = event.payload.model_dump(mode="json", exclude={"type"})
    detail = " ".join(f"{k}={v}" for k, v in payload.items() if not isinstance(v, dict | list))
    return f"{record.partition}@{record.offset} {event.arena_id} seq={event.seq} {event.type} {detail}"


def format_command(record: TopicRecord) -> str:
    key = (record.key or b"").decode("utf-8", errors="replace")
    value = (record.value or b"").decode("utf-8", errors="replace")
    return f"{record.partition}@{record.offset} {key} {value[:400]}"


def format_dead_letter(record: TopicRecord) -> str:
    letter = decode_dead_letter(record.value or b"{}")
    source = letter.source
    return (
        f"{record.partition}@{record.offset} {letter.reason} from {source.topic}[{source.partition}]@{source.offset}: "
        f"{letter.message} | value: {(letter.value_preview or '')[:120]!r}"
    )


def format_alert(record: TopicRecord) -> str:
    alert = decode_alert(record.value or b"{}")
    return (
        f"{record.partition}@{record.offset} {alert.check.value} arena={alert.arena_id} event={alert.event_id} "
        f"seq={alert.seq} expected={alert.expected} actual={alert.actual}: {alert.message}"
    )


def follow(settings: Settings, topic: str, *, from_end: bool = True, poll_s: float = 0.5) -> Iterator[TopicRecord]:
    """New records as they are committed, until interrupted (Ctrl-C)."""
    consumer = new_consumer(settings, "tail", overrides={"auto.offset.reset": "earliest"})
    try:
        start = OFFSET_END if from_end else OFFSET_BEGINNING
        consumer.assign([TopicPartition(topic, p, start) for p in partitions_of(settings, topic)])
        while True:
            for message in consumer.consume(500, poll_s):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise TopicReadError(f"reading {topic}: {error.str()}")
                _kind, timestamp = message.timestamp()
                yield TopicRecord(
                    message.partition() or 0, message.offset() or 0, timestamp, message.key(), message.value()
                )
    finally:
        consumer.close()


def snapshot(settings: Settings, topic: str, *, last: int | None) -> list[TopicRecord]:
    """The records of `topic` now, or only the `last` N of each partition."""
    start = None
    if last is not None:
        start = {p: max(0, end - last) for p, end in end_offsets(settings, topic).items()}
    return list(read_snapshot(settings, topic, start=start))
