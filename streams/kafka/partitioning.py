"""Which partition owns an arena: Kafka's Java-compatible murmur2 of the arena id.

An arena's state lives on exactly one partition (its tables' changelog partition), so every
client must agree on the mapping. Java clients and aiokafka (Faust) use murmur2; librdkafka's
default (`consistent_random`, CRC32) does not — it disagrees for most keys — so the project's
confluent-kafka producers set `partitioner=murmur2_random`, and the command processor refuses a
command found on a partition that does not own its arena rather than fork the arena's state.
"""

from __future__ import annotations

from aiokafka.partitioner import murmur2

# For confluent-kafka producers: the librdkafka partitioner equal to Java's for non-null keys.
PRODUCER_PARTITIONER = "murmur2_random"


def partition_for(arena_id: str, partitions: int) -> int:
    """The partition that owns `arena_id` among `partitions` (Java's DefaultPartitioner for keyed records)."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, got {partitions}")
    return int(murmur2(arena_id.encode("utf-8")) & 0x7FFFFFFF) % partitions
