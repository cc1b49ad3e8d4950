"""Who does what in a Kafka cluster right now: partition leaders, ISRs, and transaction coordinators.

The failover tests kill the node that holds a role, so they must find it. confluent-kafka's admin client
has no transaction API (no FindCoordinator, ListTransactions or DescribeTransactions), so the
coordinator of a transactional id is found the way the broker finds it: the id lives in one partition
of `__transaction_state` (abs(Java hashCode(id)) % partition count), and the leader of that partition is
its coordinator. The ids a worker uses are read from `__transaction_state` itself, so nothing is
assumed about how Faust names them; the derivation is checked against what the log holds.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from streams.kafka.settings import Settings

TRANSACTION_STATE = "__transaction_state"
CONSUMER_OFFSETS = "__consumer_offsets"


@dataclass(frozen=True, slots=True)
class PartitionRoles:
    topic: str
    partition: int
    leader: int  # -1: no leader (offline)
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


def java_string_hash(text: str) -> int:
    """Java's String.hashCode (a signed 32-bit int over UTF-16 code units)."""
    value = 0
    for unit in struct.unpack(f">{len(text.encode('utf-16-be')) // 2}H", text.encode("utf-16-be")):
        value = (31 * value + unit) & 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def coordinator_partition(key: str, partitions: int) -> int:
    """The internal-topic partition the broker keeps `key` (a transactional id or a group id) in.

    Kafka's Utils.abs maps Integer.MIN_VALUE to 0 rather than overflowing.
    """
    hashed = java_string_hash(key)
    return (0 if hashed == -(1 << 31) else abs(hashed)) % partitions


def roles(settings: Settings, topics: Iterable[str], *, timeout_s: float = 10.0) -> list[PartitionRoles]:
    """Leader, replicas and ISR of every partition of `topics`, as the cluster's metadata says now."""
    admin = AdminClient(settings.client_config())
    metadata = admin.list_topics(timeout=timeout_s)
    found: list[PartitionRoles] = []
    for topic in topics:
        described = metadata.topics.get(topic)
        if described is None:
            continue
        for number, partition in sorted(described.partitions.items()):
            found.append(
                PartitionRoles(topic, number, partition.leader, tuple(partition.replicas), tuple(partition.isrs))
            )
    return found


def leader_of(settings: Settings, topic: str, partition: int) -> int:
    for found in roles(settings, [topic]):
        if found.partition == partition:
            return found.leader
    raise LookupError(f"{topic}[{partition}] is not in the cluster's metadata")


def wait_until_fully_replicated(settings: Settings, topics: Iterable[str], *, timeout_s: float = 180.0) -> float:
    """Block until every partition of `topics` has a leader and its whole replica set in sync; seconds."""
    wanted = list(topics)
    began = time.monotonic()
    while True:
        try:
            lagging = [r for r in roles(settings, wanted) if r.leader < 0 or set(r.isr) != set(r.replicas)]
        except Exception:  # noqa: BLE001 - a cluster that is still electing answers with errors
            lagging = [PartitionRoles("?", -1, -1, (), ())]
        if not lagging:
            return time.monotonic() - began
        if time.monotonic() - began > timeout_s:
            shown = ", ".join(f"{r.topic}[{r.partition}] isr={r.isr} of {r.replicas}" for r in lagging[:5])
            raise TimeoutError(f"not fully replicated after {timeout_s:.0f}s: {shown}")
        time.sleep(0.5)


def transactional_ids(settings: Settings, starting_with: str, *, timeout_s: float = 30.0) -> dict[str, int]:
    """The transactional ids beginning with `starting_with` that the cluster knows, with the
    `__transaction_state` partition holding each (read from the log itself)."""
    consumer = Consumer(
        settings.client_config(
            {"group.id": f"roles-{time.monotonic_ns()}", "enable.auto.commit": False, "enable.partition.eof": True}
        )
    )
    try:
        metadata = consumer.list_topics(TRANSACTION_STATE, timeout=timeout_s)
        partitions = sorted(metadata.topics[TRANSACTION_STATE].partitions)
        ends: dict[int, int] = {}
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(TRANSACTION_STATE, partition), timeout=timeout_s)
            if high > low:
                ends[partition] = high
        consumer.assign([TopicPartition(TRANSACTION_STATE, p, 0) for p in ends])
        found: dict[str, int] = {}
        done: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while len(done) < len(ends) and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                partition = message.partition() or 0
                error = message.error()
                if error is not None:
                    if error.code() == error._PARTITION_EOF:
                        done.add(partition)
                    continue
                tid = _transactional_id_of(message.key())
                if tid is not None and tid.startswith(starting_with):
                    found[tid] = partition
                if (message.offset() or 0) + 1 >= ends[partition]:
                    done.add(partition)
        return found
    finally:
        consumer.close()


def _transactional_id_of(key: bytes | None) -> str | None:
    """The id in a `__transaction_state` record key: int16 version, then an int16-length UTF-8 string."""
    if key is None or len(key) < 4:
        return None
    _version, length = struct.unpack(">hh", key[:4])
    if length < 0 or len(key) < 4 + length:
        return None
    return key[4 : 4 + length].decode(errors="replace")


def group_coordinator(settings: Settings, group_id: str, *, timeout_s: float = 10.0) -> int:
    """The node coordinating a consumer group, as the broker reports it."""
    admin = AdminClient(settings.client_config())
    (future,) = admin.describe_consumer_groups([group_id], request_timeout=timeout_s).values()
    return int(future.result().coordinator.id)
