"""How far behind the worker is, and waiting until it has caught up: `arena lag [--wait]`.

A consumer group's lag on a partition is what is committed to the partition and not yet processed:
the records from the group's committed offset up to the partition's end. Under exactly-once the
group's commit is part of the same transaction as the records a unit produced, so lag 0 on the command
topic also means every event is committed and readable, and lag 0 on the event topic means the ledger
processor has checked every event.

Two things make "the end" less simple than the high watermark:

- **Open transactions.** The end is the *last stable offset* (a ListOffsets request at read_committed):
  records of a transaction still open are not committed work yet.
- **Transaction markers.** Every transaction ends with a commit marker that takes an offset and is
  never delivered; aborted records are never delivered either. On the event topic (written in
  transactions) a ledger processor that has checked everything sits one offset or more below the end,
  forever. So when the committed offset is below the end, the partition is *peeked*: one
  read_committed fetch from the committed offset. If it finds no record before the end, the offsets in
  between are markers or aborted records and the lag is 0 (the stall watchdog decides "work waiting"
  the same way: streams/worker/stall_watchdog.py). If it finds one, the lag is the offset distance,
  an upper bound that counts the markers among the records.

A worker is two consumer groups (streams/worker/app.py): the command processor's (`<app id>`) on the
command topic and the ledger processor's (`<app id>-ledger`) on the event topic. `worker_groups` names
them; `wait_for_worker` waits for both, the commands first.

No group is joined: the offsets are looked up and the peeks use assigned partitions, so measuring never
disturbs the worker. `LagProbe` keeps its clients between measures (`--wait` and the worker's own
sampler ask every few seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, IsolationLevel, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ClusterMetadata, OffsetSpec  # type: ignore[attr-defined]  # exported, untyped

from streams.kafka.clients import new_admin, new_consumer
from streams.kafka.retry import BROKER_REQUESTS
from streams.kafka.settings import Settings, ledger_app_id_of
from streams.kafka.topic_reader import TopicReadError, committed_offsets

_PEEK_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Lag:
    per_partition: Mapping[int, int]

    @property
    def total(self) -> int:
        return sum(self.per_partition.values())


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One partition of one topic, as the group stands on it."""

    topic: str
    partition: int
    start: int  # the first readable offset (records below it were deleted by retention)
    end: int  # the last stable offset: what a read_committed reader can reach now
    committed: int | None  # the group's committed offset; None when it has committed nothing here
    records_waiting: bool  # a committed record lies between the committed offset and the end

    @property
    def lag(self) -> int:
        """0 when nothing committed is waiting (markers and aborted records are not work); else the offset
        distance from the committed offset to the end."""
        if not self.records_waiting:
            return 0
        return max(0, self.end - max(self.committed if self.committed is not None else 0, self.start))


@dataclass(frozen=True, slots=True)
class GroupMember:
    client_id: str
    host: str
    partitions: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class GroupLag:
    group_id: str
    state: str  # the group's state as the coordinator says it (Stable, PreparingRebalance, Empty, ...)
    partitions: tuple[PartitionLag, ...]
    members: tuple[GroupMember, ...]

    @property
    def total(self) -> int:
        return sum(p.lag for p in self.partitions)

    def of(self, topic: str) -> Lag:
        return Lag({p.partition: p.lag for p in self.partitions if p.topic == topic})

    def owner(self, topic: str, partition: int) -> GroupMember | None:
        for member in self.members:
            if (topic, partition) in member.partitions:
                return member
        return None


class LagTimeout(RuntimeError):
    """The worker did not catch up in time (it may be down: see its log)."""


class LagProbe:
    """Measures a group's lag, with one admin client and one consumer kept across measures."""

    def __init__(self, settings: Settings, group_id: str) -> None:
        self._settings = settings
        self.group_id = group_id
        self._admin: AdminClient | None = None
        # Carries the group's id to look up its committed offsets; never subscribes, so never joins it.
        self._consumer: Consumer | None = None

    def __enter__(self) -> LagProbe:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        self._admin = None

    @property
    def admin(self) -> AdminClient:
        if self._admin is None:
            # Warnings and errors only: closing it between measures may purge a background event, which
            # librdkafka reports at info level on stderr ("Purging 1 unserved events"), noise in `arena lag`.
            self._admin = new_admin(self._settings, "lag", overrides={"log_level": 4})
        return self._admin

    @property
    def consumer(self) -> Consumer:
        if self._consumer is None:
            self._consumer = new_consumer(
                self._settings,
                "lag",
                group_id=self.group_id,
                overrides={"enable.partition.eof": True, "fetch.wait.max.ms": 50, "auto.offset.reset": "earliest"},
            )
        return self._consumer

    def measure(
        self, topics: Sequence[str], *, only: Iterable[tuple[str, int]] | None = None, members: bool = True
    ) -> GroupLag:
        """The group's lag on every partition of `topics` (or only on the `only` ones)."""
        wanted = sorted(set(only) if only is not None else self._partitions(topics))
        if not wanted:
            return GroupLag(self.group_id, self._state() if members else "", (), ())
        tps = [TopicPartition(topic, p) for topic, p in wanted]
        ends = self._offsets(tps, OffsetSpec.latest())  # type: ignore[no-untyped-call]
        starts = self._offsets(tps, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
        found = BROKER_REQUESTS.call(
            f"committed offsets of {self.group_id}", lambda: self.consumer.committed(tps, timeout=15)
        )
        committed: dict[tuple[str, int], int | None] = {
            (tp.topic, tp.partition): (tp.offset if tp.offset >= 0 else None) for tp in found
        }
        # Where the group reads from next: its committed offset, or the first offset if it has none.
        reads_from = {tp: max(committed[tp] or 0, starts[tp]) for tp in wanted}
        behind = {tp: offset for tp, offset in reads_from.items() if offset < ends[tp]}
        waiting = self._peek(behind, ends)
        partitions = tuple(
            PartitionLag(topic, p, starts[topic, p], ends[topic, p], committed[topic, p], (topic, p) in waiting)
            for topic, p in wanted
        )
        state, group_members = self._members() if members else ("", ())
        return GroupLag(self.group_id, state, partitions, group_members)

    def _partitions(self, topics: Sequence[str]) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for topic in topics:
            metadata = self._metadata(topic)
            entry = metadata.topics.get(topic)
            if entry is None or entry.error is not None:
                raise TopicReadError(f"topic {topic!r} is not readable: {entry.error if entry else 'missing'}")
            found.extend((topic, p) for p in entry.partitions)
        return found

    def _metadata(self, topic: str) -> ClusterMetadata:
        consumer = self.consumer
        metadata: ClusterMetadata = BROKER_REQUESTS.call(
            f"partitions of {topic}", lambda: consumer.list_topics(topic, timeout=15)
        )
        return metadata

    def _offsets(self, tps: list[TopicPartition], spec: OffsetSpec) -> dict[tuple[str, int], int]:
        def ask() -> dict[tuple[str, int], int]:
            futures = self.admin.list_offsets(
                dict.fromkeys(tps, spec), isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=15
            )
            return {(tp.topic, tp.partition): int(future.result().offset) for tp, future in futures.items()}

        return BROKER_REQUESTS.call("offsets of " + ", ".join(sorted({tp.topic for tp in tps})), ask)

    def _peek(self, behind: Mapping[tuple[str, int], int], ends: Mapping[tuple[str, int], int]) -> set[tuple[str, int]]:
        """The partitions of `behind` with a committed record between their offset there and their end."""
        if not behind:
            return set()
        consumer = self.consumer
        consumer.assign([TopicPartition(topic, p, offset) for (topic, p), offset in behind.items()])
        pending = set(behind)
        waiting: set[tuple[str, int]] = set()
        deadline = time.monotonic() + _PEEK_TIMEOUT_S
        try:
            while pending and time.monotonic() < deadline:
                for message in consumer.consume(len(pending) * 10, 0.2):
                    tp = (message.topic() or "", message.partition() or 0)
                    if tp not in pending:
                        continue
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.discard(tp)
                            continue
                        if error.code() in {KafkaError._TRANSPORT, KafkaError._TIMED_OUT}:
                            continue
                        raise KafkaException(error)
                    if (message.offset() or 0) < ends[tp]:
                        waiting.add(tp)
                    pending.discard(tp)  # a record past the end came later: none before it
        finally:
            consumer.unassign()
        # The broker did not answer in time: say "waiting", the answer that never ends a wait too early.
        return waiting | pending

    def _state(self) -> str:
        return self._members()[0]

    def _members(self) -> tuple[str, tuple[GroupMember, ...]]:
        try:
            (future,) = self.admin.describe_consumer_groups([self.group_id], request_timeout=15).values()
            description = future.result()
        except KafkaException:
            return "unknown", ()
        members = tuple(
            GroupMember(
                client_id=member.client_id,
                host=member.host,
                partitions=tuple(sorted((tp.topic, tp.partition) for tp in (member.assignment.topic_partitions or []))),
            )
            for member in description.members
        )
        state = getattr(description.state, "name", str(description.state))
        return state.title().replace("_", ""), members


def group_lag(settings: Settings, group_id: str, topics: Sequence[str]) -> GroupLag:
    with LagProbe(settings, group_id) as probe:
        return probe.measure(topics)


def lag_of(settings: Settings, group_id: str, topic: str) -> Lag:
    return group_lag(settings, group_id, [topic]).of(topic)


def wait_for_zero_lag(
    settings: Settings,
    group_id: str,
    topics: Sequence[str],
    *,
    timeout_s: float = 600.0,
    poll_s: float = 0.5,
    progress: Callable[[GroupLag], None] | None = None,
    alive: Callable[[], bool] = lambda: True,
    stall_s: float | None = None,
) -> float:
    """Block until the group's lag is 0 on every partition of `topics`; returns the seconds waited.

    `alive` lets the caller stop early when the worker process died (or restart it: it is asked on
    every round), with a clear error instead of a silent wait until the timeout; `stall_s` ends the wait
    when the committed offsets have not moved for that long.
    """
    began = time.monotonic()
    moved_at, last_committed = began, None
    what = " and ".join(topics)
    with LagProbe(settings, group_id) as probe:
        while True:
            lag = probe.measure(topics, members=False)
            if progress is not None:
                progress(lag)
            if lag.total == 0:
                return time.monotonic() - began
            now = time.monotonic()
            committed = {(p.topic, p.partition): p.committed for p in lag.partitions}
            if committed != last_committed:
                moved_at, last_committed = now, committed
            if not alive():
                raise LagTimeout(f"the worker stopped with {lag.total:,} record(s) of {what} unprocessed")
            if stall_s is not None and now - moved_at > stall_s:
                raise LagTimeout(
                    f"the worker made no progress for {now - moved_at:.0f}s with {lag.total:,} record(s) of "
                    f"{what} unprocessed"
                )
            if now - began > timeout_s:
                raise LagTimeout(f"{lag.total:,} record(s) of {what} still unprocessed after {timeout_s:.0f}s")
            time.sleep(poll_s)


def wait_until_caught_up(
    settings: Settings,
    group_id: str,
    topic: str,
    *,
    targets: Mapping[int, int] | None = None,
    timeout_s: float = 600.0,
    poll_s: float = 0.5,
    progress: Callable[[Lag], None] | None = None,
    alive: Callable[[], bool] = lambda: True,
    stall_s: float | None = None,
) -> float:
    """Block until the group's committed offsets on `topic` reach `targets`, or (default) its lag is 0.

    Returns the seconds waited; `alive` and `stall_s` as in `wait_for_zero_lag`.
    """
    if targets is None:

        def report(lag: GroupLag) -> None:
            if progress is not None:
                progress(lag.of(topic))

        return wait_for_zero_lag(
            settings,
            group_id,
            [topic],
            timeout_s=timeout_s,
            poll_s=poll_s,
            progress=report,
            alive=alive,
            stall_s=stall_s,
        )
    began = time.monotonic()
    moved_at, last_committed = began, None
    while True:
        committed = committed_offsets(settings, group_id, topic)
        lag = Lag({p: max(0, end - max(committed.get(p, -1), 0)) for p, end in targets.items()})
        if progress is not None:
            progress(lag)
        if lag.total == 0:
            return time.monotonic() - began
        now = time.monotonic()
        if committed != last_committed:
            moved_at, last_committed = now, committed
        if not alive():
            raise LagTimeout(f"the worker stopped with {lag.total:,} record(s) of {topic} unprocessed")
        if stall_s is not None and now - moved_at > stall_s:
            raise LagTimeout(
                f"the worker made no progress for {now - moved_at:.0f}s with {lag.total:,} record(s) of {topic} "
                "unprocessed"
            )
        if now - began > timeout_s:
            raise LagTimeout(f"{lag.total:,} record(s) of {topic} still unprocessed after {timeout_s:.0f}s")
        time.sleep(poll_s)


def worker_groups(settings: Settings, app_id: str) -> list[tuple[str, list[str]]]:
    """A worker's consumer groups, each with the topic it consumes: commands, then the ledger."""
    return [(app_id, [settings.topics.commands]), (ledger_app_id_of(app_id), [settings.topics.events])]


def wait_for_worker(
    settings: Settings,
    app_id: str,
    *,
    timeout_s: float = 600.0,
    poll_s: float = 0.5,
    progress: Callable[[GroupLag], None] | None = None,
    alive: Callable[[], bool] = lambda: True,
    stall_s: float | None = None,
) -> float:
    """Block until the worker has decided every command and checked every event: both its groups at lag
    0 (`wait_for_zero_lag` each, within one `timeout_s`); returns the seconds waited."""
    began = time.monotonic()
    for group_id, topics in worker_groups(settings, app_id):
        left = max(poll_s, timeout_s - (time.monotonic() - began))
        wait_for_zero_lag(
            settings, group_id, topics, timeout_s=left, poll_s=poll_s, progress=progress, alive=alive, stall_s=stall_s
        )
    return time.monotonic() - began


__all__ = [
    "GroupLag",
    "GroupMember",
    "Lag",
    "LagProbe",
    "LagTimeout",
    "PartitionLag",
    "group_lag",
    "lag_of",
    "wait_for_worker",
    "wait_for_zero_lag",
    "wait_until_caught_up",
    "worker_groups",
]
