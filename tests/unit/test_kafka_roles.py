"""The coordinator derivation the failover tests rely on agrees with Java and Kafka."""

from __future__ import annotations

import pytest

from tests.support.kafka_roles import coordinator_partition, java_string_hash


@pytest.mark.parametrize(
    ("text", "java"),
    [("", 0), ("hello", 99162322), ("polygenelubricants", -(2**31)), ("\U0001f600", 1772899)],
)
def test_java_string_hash_matches_java(text: str, java: int) -> None:
    assert java_string_hash(text) == java


def test_an_id_hashing_to_integer_min_value_lands_in_partition_zero_as_in_kafka() -> None:
    assert coordinator_partition("polygenelubricants", 7) == 0
    assert coordinator_partition("hello", 10) == 99162322 % 10
