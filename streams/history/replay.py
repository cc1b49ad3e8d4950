"""Replay the event topic to a point in its history, with the pure core, in batches.

A point is where a replay starts or ends: `earliest`, `latest`, per-partition offsets (`0:120,3:98`,
partitions left out mean "their end" for an end point and "their beginning" for a start point), or a
time — an ISO-8601 instant or `@<epoch ms>` — resolved per partition with Kafka's `offsets_for_times`
to the first event written at or after it. Times are the events' Kafka timestamps: when the worker
committed them, which is what an auditor asks about ("what did the ledger say at 14:05?"). The
engine's own time is in each event's `occurred_at`.

An end point is exclusive: replaying to `0:120` folds offsets 0..119 of partition 0. With `--arena`
only the partition that owns the arena is read.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime

from confluent_kafka import TopicPartition

from streams.history.audit import AuditResult, audit_records
from streams.kafka.clients import new_consumer
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import end_offsets, partitions_of, read_snapshot, start_offsets

_OFFSETS = re.compile(r"^\d+:\d+(,\d+:\d+)*$")
_RECORD = re.compile(r"^(?:[^\[\]]*\[)?(\d+)\]?@(\d+)$")


class PointError(ValueError):
    """A point that cannot be understood; the message says what forms are accepted."""


@dataclass(frozen=True, slots=True)
class Point:
    kind: str  # "earliest" | "latest" | "offsets" | "time"
    offsets: tuple[tuple[int, int], ...] = ()
    time_ms: int | None = None

    def describe(self) -> str:
        if self.kind == "offsets":
            return ",".join(f"{p}:{o}" for p, o in self.offsets)
        if self.kind == "time":
            return f"@{self.time_ms}"
        return self.kind


EARLIEST = Point("earliest")
LATEST = Point("latest")


def parse_point(text: str) -> Point:
    value = text.strip()
    if value in {"earliest", "beginning"}:
        return EARLIEST
    if value in {"latest", "end", "now"}:
        return LATEST
    if _OFFSETS.match(value):
        pairs = tuple(sorted((int(p), int(o)) for p, o in (item.split(":") for item in value.split(","))))
        return Point("offsets", offsets=pairs)
    if value.startswith("@") and value[1:].isdigit():
        return Point("time", time_ms=int(value[1:]))
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PointError(
            f"{text!r} is not a point: use earliest, latest, PARTITION:OFFSET[,...], "
            "an ISO-8601 time such as 2026-11-25T14:05:00Z, or @EPOCH_MS"
        ) from None
    if instant.tzinfo is None:
        raise PointError(f"{text!r} has no time zone; add Z or an offset such as +01:00")
    return Point("time", time_ms=int(instant.timestamp() * 1000))


def parse_record(text: str) -> tuple[int, int]:
    """(partition, offset) of one record: ``1@15``, or as alerts print it, ``arena.events[1]@15``."""
    found = _RECORD.match(text.strip())
    if found is None:
        raise PointError(f"{text!r} is not a record: use PARTITION@OFFSET, such as 1@15 or arena.events[1]@15")
    return int(found.group(1)), int(found.group(2))


def resolve(settings: Settings, topic: str, point: Point, *, as_end: bool) -> dict[int, int]:
    """Offsets per partition for `point` (for an end point: exclusive; for a start point: inclusive)."""
    ends = end_offsets(settings, topic)
    if point.kind == "latest":
        return dict(ends)
    if point.kind == "earliest":
        return start_offsets(settings, topic)
    if point.kind == "offsets":
        given = dict(point.offsets)
        unknown = sorted(set(given) - set(ends))
        if unknown:
            raise PointError(f"{topic} has no partition {unknown[0]} (it has {len(ends)})")
        default = ends if as_end else start_offsets(settings, topic)
        return {p: min(given.get(p, default[p]), ends[p]) for p in ends}
    assert point.time_ms is not None
    return _offsets_for_time(settings, topic, point.time_ms, ends)


def _offsets_for_time(settings: Settings, topic: str, time_ms: int, ends: dict[int, int]) -> dict[int, int]:
    consumer = new_consumer(settings, "replay-times")
    try:
        wanted = [TopicPartition(topic, p, time_ms) for p in partitions_of(settings, topic)]
        found = consumer.offsets_for_times(wanted, timeout=15)
        # -1: no event at or after the time in that partition, so the point is its end.
        return {tp.partition: (ends[tp.partition] if tp.offset < 0 else tp.offset) for tp in found}
    finally:
        consumer.close()


@dataclass(slots=True)
class ReplayResult:
    audit: AuditResult
    start: dict[int, int]
    end: dict[int, int]
    seconds: float

    @property
    def events_per_second(self) -> float:
        return self.audit.event_count / self.seconds if self.seconds > 0 else 0.0


def replay(
    settings: Settings,
    *,
    start: Point = EARLIEST,
    end: Point = LATEST,
    arena: str | None = None,
    keep_events: bool = True,
    disowned: frozenset[tuple[int, int]] = frozenset(),
    progress: Callable[[int], None] | None = None,
    processes: int | None = None,
) -> ReplayResult:
    """Fold the events between `start` and `end` (through the book and `evolve`) into states.

    `disowned`: (partition, offset) of records to leave out, see `streams.history.audit`.
    `processes`: fold the partitions in that many processes at once (an arena lives on one partition,
    so the partitions' audits are independent and simply add up); default: one per core when there are
    at least `PARALLEL_FROM` events to read and more than one partition, else this process alone.
    """
    topic = settings.topics.events
    began = time.monotonic()
    first = resolve(settings, topic, start, as_end=False)
    last = resolve(settings, topic, end, as_end=True)
    if arena is not None:
        owner = partition_for(arena, len(last))
        first = {owner: first[owner]}
        last = {owner: last[owner]}
    workers = _processes(processes, first, last)
    if workers > 1:
        result = _in_processes(settings, topic, first, last, keep_events, disowned, workers, progress)
    else:
        records = read_snapshot(settings, topic, start=first, stop=last, progress=progress)
        if arena is not None:
            records = (r for r in records if r.key == arena.encode())
        result = audit_records(records, topic=topic, keep_events=keep_events, disowned=disowned)
    return ReplayResult(audit=result, start=first, end=last, seconds=time.monotonic() - began)


PARALLEL_FROM = 200_000
"""Events to read before a replay spreads over processes (each pays ~1 s to start and import)."""


def _processes(asked: int | None, first: dict[int, int], last: dict[int, int]) -> int:
    busy = [p for p in last if last[p] > first.get(p, 0)]
    if asked is not None:
        return max(1, min(asked, len(busy)))
    total = sum(last[p] - first.get(p, 0) for p in busy)
    return min(os.cpu_count() or 1, len(busy)) if total >= PARALLEL_FROM else 1


def _in_processes(  # noqa: PLR0917 - replay's own arguments, passed on
    settings: Settings,
    topic: str,
    first: dict[int, int],
    last: dict[int, int],
    keep_events: bool,
    disowned: frozenset[tuple[int, int]],
    workers: int,
    progress: Callable[[int], None] | None,
) -> AuditResult:
    """Each partition replayed in a process of its own ("spawn": a forked Kafka client is not safe)."""
    result = AuditResult()
    context = multiprocessing.get_context("spawn")
    read = 0
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        jobs = [
            pool.submit(_replay_partition, settings, topic, p, first.get(p, 0), end, keep_events, disowned)
            for p, end in sorted(last.items())
            if end > first.get(p, 0)
        ]
        for job in as_completed(jobs):
            part = job.result()
            result.absorb(part)
            read += part.event_count
            if progress is not None:
                progress(read)
    return result


def _replay_partition(  # noqa: PLR0917 - the arguments of one job, sent to another process
    settings: Settings,
    topic: str,
    partition: int,
    start: int,
    stop: int,
    keep_events: bool,
    disowned: frozenset[tuple[int, int]],
) -> AuditResult:
    records = read_snapshot(settings, topic, start={partition: start}, stop={partition: stop})
    return audit_records(records, topic=topic, keep_events=keep_events, disowned=disowned)
