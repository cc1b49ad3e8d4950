"""Small, strict helpers for tests that read topics back: what is there, nothing assumed."""

from __future__ import annotations

import time
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from streams.kafka.settings import Settings
from streams.kafka.topic_reader import read_snapshot


@dataclass(frozen=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


def read_topic(
    settings: Settings,
    topic: str,
    *,
    isolation: str = "read_committed",
    expect_at_least: int = 0,
    timeout_s: float = 60.0,
    settle_s: float = 1.0,
) -> list[Record]:
    """Every record of `topic` from the beginning, in per-partition order.

    Waits until at least `expect_at_least` records arrived (or the timeout), then keeps reading for
    `settle_s` more so that a test also sees records that should NOT be there (duplicates).
    """
    consumer = Consumer(
        settings.client_config(
            {
                "group.id": f"reader-{time.monotonic_ns()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": isolation,
            }
        )
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        records: list[Record] = []
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while True:
            now = time.monotonic()
            if settle_until is None and len(records) >= expect_at_least:
                settle_until = now + settle_s
            if (settle_until is not None and now >= settle_until) or now >= deadline:
                break
            for message in consumer.consume(500, 0.2):
                error = message.error()
                if error is not None:
                    if error.code() == error._PARTITION_EOF:
                        continue
                    raise RuntimeError(f"consumer error on {topic}: {error}")
                records.append(Record(message.partition() or 0, message.offset() or 0, message.key(), message.value()))
        return records
    finally:
        consumer.close()


def read_all(settings: Settings, topic: str) -> list[Record]:
    """Every committed record of `topic` up to its end now: for a test that has waited for lag 0 (`arena lag
    --wait`), after which nothing more can arrive, so there is nothing to wait for or settle."""
    return [Record(r.partition, r.offset, r.key, r.value) for r in read_snapshot(settings, topic)]


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """The log end offset of each partition (transaction markers included)."""
    consumer = Consumer(settings.client_config({"group.id": f"offsets-{time.monotonic_ns()}"}))
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        result: dict[int, int] = {}
        for partition in metadata.topics[topic].partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            result[partition] = high
        return result
    finally:
        consumer.close()
