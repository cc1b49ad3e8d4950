"""The arena → partition mapping agrees with Kafka's Java DefaultPartitioner (murmur2)."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.kafka.partitioning import partition_for


@given(st.text(min_size=1, max_size=64), st.integers(min_value=1, max_value=64))
def test_partition_for_matches_the_partitioner_faust_uses(arena_id: str, partitions: int) -> None:
    every = list(range(partitions))
    assert partition_for(arena_id, partitions) == DefaultPartitioner()(arena_id.encode(), every, every)


def test_known_java_values() -> None:
    # Values from Kafka's own Utils.murmur2 test vectors, reduced as DefaultPartitioner does.
    assert partition_for("21", 1000) == (-973932308 & 0x7FFFFFFF) % 1000
    assert partition_for("foobar", 1000) == (-790332482 & 0x7FFFFFFF) % 1000


def test_zero_partitions_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for("a", 0)
