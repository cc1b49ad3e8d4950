"""Which partition owns an arena: Kafka's Java-compatible murmur2 of the arena id.

An arena's state lives on exactly one partition (its tables' changelog partition), so every
client must agree on the mapping. Java clients and aiokafka (Faust) use murmur2; librdkafka's
default (`consistent_random`, CRC32) does not — it disagrees for most keys — so the project's
confluent-kafka producers set `partitioner=murmur2_random`, and the command processor refuses a
command found on a partition that does not own its arena rather than fork the arena's state.

The hash is written out here (pure, standard library only) so the processors, which decide on it,
depend on no Kafka client; tests/unit/test_partitioning.py holds it to Kafka's own test vectors and to
aiokafka's implementation, which Faust uses.
"""

from __future__ import annotations

from typing import Final

# For confluent-kafka producers: the librdkafka partitioner equal to Java's for non-null keys.
PRODUCER_PARTITIONER: Final = "murmur2_random"

_SEED: Final = 0x9747B28C
_M: Final = 0x5BD1E995
_MASK32: Final = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2`: MurmurHash2, 32 bits, little-endian blocks, as a signed Java int."""
    length = len(data)
    h = (_SEED ^ length) & _MASK32
    blocks = length // 4
    for i in range(blocks):
        k = int.from_bytes(data[4 * i : 4 * i + 4], "little")
        k = (k * _M) & _MASK32
        k ^= k >> 24
        k = (k * _M) & _MASK32
        h = ((h * _M) & _MASK32) ^ k
    tail = data[4 * blocks :]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & _MASK32
    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(arena_id: str, partitions: int) -> int:
    """The partition that owns `arena_id` among `partitions` (Java's DefaultPartitioner for keyed records)."""
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, got {partitions}")
    return (murmur2(arena_id.encode("utf-8")) & 0x7FFFFFFF) % partitions
