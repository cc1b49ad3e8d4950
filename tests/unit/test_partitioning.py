"""The arena → partition mapping agrees with Kafka's Java DefaultPartitioner (murmur2)."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given
from hypothesis import strategies as st

from streams.kafka.partitioning import murmur2, partition_for


@given(st.text(min_size=1, max_size=64), st.integers(min_value=1, max_value=64))
def test_partition_for_matches_the_partitioner_faust_uses(arena_id: str, partitions: int) -> None:
    every = list(range(partitions))
    assert partition_for(arena_id, partitions) == DefaultPartitioner()(arena_id.encode(), every, every)


@given(st.binary(max_size=64))
def test_murmur2_equals_aiokafka_s_for_any_bytes(data: bytes) -> None:
    # aiokafka returns the same 32 bits unsigned; Kafka (Java) signed.
    assert murmur2(data) & 0xFFFFFFFF == aiokafka_murmur2(data) & 0xFFFFFFFF


def test_murmur2_gives_kafka_s_own_test_vectors() -> None:
    # Kafka's UtilsTest.testMurmur2: every tail length (0-3 bytes after the 4-byte blocks) is covered.
    assert murmur2(b"21") == -973932308
    assert murmur2(b"foobar") == -790332482
    assert murmur2(b"a-little-bit-long-string") == -985981536
    assert murmur2(b"a-little-bit-longer-string") == -1486304829
    assert murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") == -58897971
    assert murmur2(b"abc") == 479470107


def test_known_java_values() -> None:
    # Values from Kafka's own Utils.murmur2 test vectors, reduced as DefaultPartitioner does.
    assert partition_for("21", 1000) == (-973932308 & 0x7FFFFFFF) % 1000
    assert partition_for("foobar", 1000) == (-790332482 & 0x7FFFFFFF) % 1000


def test_zero_partitions_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for("a", 0)
