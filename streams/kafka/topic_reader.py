"""Read a topic as it stands, in batches, with read_committed: the reader behind audit, tail and replay.

A snapshot read has a definite end: the reader notes each partition's end offset when it starts and
stops once every partition has been read up to it (or has reported end-of-partition: the rest were
transaction markers or aborted records, which a read_committed consumer never returns). It never
joins a consumer group (partitions are assigned, no offsets are committed), so reading the event
topic cannot disturb the worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]  # exported, untyped

from streams.kafka.clients import new_admin, new_consumer
from streams.kafka.retry import BROKER_REQUESTS, TRANSIENT
from streams.kafka.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class TopicRecord:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


class TopicReadError(RuntimeError):
    """The broker refused the read (missing topic, authorisation, ...): reported, never skipped."""


def _consumer(settings: Settings, *, batch_bytes: int = 8 * 1024 * 1024) -> Consumer:
    return new_consumer(
        settings,
        "reader",
        overrides={
            # An offset that no longer exists (retention, delete_records) must be an error, never a
            # silent jump to the end that would let an audit pass over records it did not read.
            "auto.offset.reset": "error",
            "enable.partition.eof": True,
            "fetch.max.bytes": batch_bytes * 4,
            "max.partition.fetch.bytes": batch_bytes,
            "queued.max.messages.kbytes": 256 * 1024,
        },
    )


def partitions_of(settings: Settings, topic: str) -> list[int]:
    consumer = _consumer(settings)
    try:
        metadata = consumer.list_topics(topic, timeout=15)
        entry = metadata.topics.get(topic)
        if entry is None or entry.error is not None:
            raise TopicReadError(f"topic {topic!r} is not readable: {entry.error if entry else 'missing'}")
        return sorted(entry.partitions)
    finally:
        consumer.close()


def end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Each partition's high watermark now (transaction markers included)."""
    return {p: high for p, (_low, high) in watermarks(settings, topic).items()}


def start_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """Each partition's first readable offset (the low watermark: 0 until retention deletes records)."""
    return {p: low for p, (low, _high) in watermarks(settings, topic).items()}


def watermarks(settings: Settings, topic: str) -> dict[int, tuple[int, int]]:
    consumer = _consumer(settings)
    try:
        return {p: _watermarks(consumer, TopicPartition(topic, p)) for p in partitions_of(settings, topic)}
    finally:
        consumer.close()


def read_snapshot(
    settings: Settings,
    topic: str,
    *,
    start: Mapping[int, int] | None = None,
    stop: Mapping[int, int] | None = None,
    progress: Callable[[int], None] | None = None,
    batch: int = 10_000,
    timeout_s: float = 600.0,
) -> Iterator[TopicRecord]:
    """Yield every committed record from `start` (default: the beginning) up to the end offsets at call time.

    `stop` (exclusive, per partition) ends earlier; partitions absent from `start` are read from the
    beginning, partitions mapped to an offset at or past their end are skipped.
    """
    consumer = _consumer(settings)
    try:
        marks = watermarks(settings, topic)
        ends = dict(stop) if stop is not None else {p: high for p, (_low, high) in marks.items()}
        # Explicit offsets, never OFFSET_BEGINNING (slower to start); below the low watermark is an error.
        firsts = {p: (start or {}).get(p, marks[p][0]) for p in ends}
        for p, first in firsts.items():
            if first < marks[p][0]:
                raise TopicReadError(
                    f"{topic}[{p}] starts at offset {marks[p][0]} (older records were deleted); "
                    f"cannot read from {first}"
                )
        ranges = {(topic, p): (firsts[p], end) for p, end in ends.items()}
        for _topic, record in _read_ranges(consumer, ranges, progress=progress, batch=batch, timeout_s=timeout_s):
            yield record
    finally:
        consumer.close()


def read_partitions(
    settings: Settings, partitions: Iterable[tuple[str, int]], *, timeout_s: float = 120.0
) -> Iterator[tuple[str, TopicRecord]]:
    """Every committed record of these (topic, partition)s, with one consumer, once none has an open transaction.

    For reading many partitions of several topics at once (verified recovery loads each active
    changelog partition). A transaction still open on a partition (a previous owner's last one, or
    this worker's own, not yet committed) would end a read_committed read early and silently, at the
    last stable offset; so the read waits until each partition's last stable offset has caught up
    with its high watermark, i.e. every transaction written so far is committed or aborted.
    """
    wanted = sorted(set(partitions))
    consumer = _consumer(settings)
    try:
        ends = _stable_ends(settings, wanted, timeout_s)
        ranges = {tp: (ends[tp][0], ends[tp][1]) for tp in wanted}
        yield from _read_ranges(consumer, ranges, progress=None, batch=10_000, timeout_s=timeout_s)
    finally:
        consumer.close()


def _stable_ends(
    settings: Settings, partitions: list[tuple[str, int]], timeout_s: float
) -> dict[tuple[str, int], tuple[int, int]]:
    """(low watermark, high watermark) per partition, once its last stable offset equals the high watermark.

    Asked with ListOffsets at both isolation levels: a read_committed consumer's own watermark query
    returns the last stable offset as the "high" one (librdkafka >= 1.8), which could never show an
    open transaction.
    """
    if not partitions:
        return {}
    admin = new_admin(settings)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            low = _list_offsets(admin, partitions, OffsetSpec.earliest(), IsolationLevel.READ_UNCOMMITTED)  # type: ignore[no-untyped-call]
            high = _list_offsets(admin, partitions, OffsetSpec.latest(), IsolationLevel.READ_UNCOMMITTED)  # type: ignore[no-untyped-call]
            stable = _list_offsets(admin, partitions, OffsetSpec.latest(), IsolationLevel.READ_COMMITTED)  # type: ignore[no-untyped-call]
        except KafkaException as exc:  # a coordinator or leader moving: ask again, within the deadline
            if time.monotonic() > deadline:
                raise TopicReadError(f"offsets of {partitions}: {exc}") from exc
            time.sleep(0.5)
            continue
        unstable = sorted(tp for tp in partitions if stable[tp] < high[tp])
        if not unstable:
            return {tp: (low[tp], high[tp]) for tp in partitions}
        if time.monotonic() > deadline:
            raise TopicReadError(
                f"a transaction stayed open on {unstable} for {timeout_s:.0f}s (last stable offset below the end)"
            )
        time.sleep(0.05)


def _list_offsets(
    admin: AdminClient,
    partitions: list[tuple[str, int]],
    spec: OffsetSpec,
    isolation: IsolationLevel,
) -> dict[tuple[str, int], int]:
    futures = admin.list_offsets(
        {TopicPartition(topic, p): spec for topic, p in partitions}, isolation_level=isolation, request_timeout=15
    )
    return {(tp.topic, tp.partition): int(future.result().offset) for tp, future in futures.items()}


def _read_ranges(
    consumer: Consumer,
    ranges: Mapping[tuple[str, int], tuple[int, int]],
    *,
    progress: Callable[[int], None] | None,
    batch: int,
    timeout_s: float,
) -> Iterator[tuple[str, TopicRecord]]:
    """Read each (topic, partition) from its first offset up to (excluding) its end, then stop."""
    pending = {tp for tp, (first, end) in ranges.items() if first < end}
    if not pending:
        return
    consumer.assign([TopicPartition(topic, p, ranges[topic, p][0]) for topic, p in sorted(pending)])
    read = 0
    deadline = time.monotonic() + timeout_s
    while pending:
        if time.monotonic() > deadline:
            raise TopicReadError(f"reading did not reach the end within {timeout_s:.0f}s; left {sorted(pending)}")
        for message in consumer.consume(batch, 0.1):
            error = message.error()
            tp = (message.topic() or "", message.partition() or 0)
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    pending.discard(tp)
                    continue
                if error.code() in TRANSIENT:
                    continue  # the client reconnects and fetches again by itself; the deadline bounds it
                raise TopicReadError(f"reading {tp[0]}[{tp[1]}]: {error.str()}")
            offset = message.offset() or 0
            end = ranges[tp][1]
            if offset >= end:
                pending.discard(tp)
                continue
            _kind, timestamp = message.timestamp()
            yield tp[0], TopicRecord(tp[1], offset, timestamp, message.key(), message.value())
            read += 1
            if offset + 1 >= end:
                pending.discard(tp)
        if progress is not None:
            progress(read)


def _retrying(what: str, call: Callable[[], T]) -> T:
    """A broker request through a restart or a leadership move (streams/kafka/retry.py); then a clear error."""
    try:
        return BROKER_REQUESTS.call(what, call)
    except KafkaException as exc:
        raise TopicReadError(f"{what}: {exc}") from exc


def _watermarks(consumer: Consumer, tp: TopicPartition) -> tuple[int, int]:
    low, high = _retrying(
        f"end offset of {tp.topic}[{tp.partition}]",
        lambda: consumer.get_watermark_offsets(tp, timeout=15, cached=False),
    )
    return int(low), int(high)


def committed_offsets(settings: Settings, group_id: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition (-1 where it has committed nothing yet)."""
    consumer = new_consumer(settings, "lag", group_id=group_id)
    try:
        partitions = [TopicPartition(topic, p) for p in partitions_of(settings, topic)]
        found = _retrying(
            f"committed offsets of {group_id} on {topic}", lambda: consumer.committed(partitions, timeout=15)
        )
        return {tp.partition: tp.offset for tp in found}
    finally:
        consumer.close()
