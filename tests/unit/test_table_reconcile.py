"""Verified recovery's pure half: a table partition ends equal to its committed changelog, others untouched."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.eos.reconcile import reconcile

keys = st.sampled_from([f"k{i}" for i in range(12)])
values = st.one_of(st.integers(-3, 3), st.dictionaries(st.sampled_from("ab"), st.integers(0, 2), max_size=2))
rows = st.dictionaries(keys, values, max_size=12)


def test_a_half_read_partition_gets_its_missing_differing_and_extra_rows_fixed() -> None:
    data: dict[str, Any] = {"a": 1, "b": 2, "c": 3, "other": 9}
    key_partition = {"a": 0, "b": 0, "c": 0, "other": 1}
    repair = reconcile(data, key_partition, 0, {"a": 1, "b": 20, "d": 4})
    assert data == {"a": 1, "b": 20, "d": 4, "other": 9}
    assert key_partition == {"a": 0, "b": 0, "d": 0, "other": 1}
    assert (repair.missing, repair.differing, repair.extra) == (("d",), ("b",), ("c",))
    assert repair.count == 3
    assert "1 missing (e.g. 'd')" in repair.describe()


def test_a_partition_that_matches_needs_no_repair() -> None:
    data = {"a": {"x": 1}}
    repair = reconcile(data, {"a": 0}, 0, {"a": {"x": 1}})
    assert repair.count == 0
    assert repair.describe() == "none"
    assert data == {"a": {"x": 1}}


def test_rows_written_by_the_worker_itself_are_kept_when_committed() -> None:
    # Rows the worker wrote while owning the partition are not in the changelog bookkeeping yet.
    data = {"mine": 5}
    key_partition: dict[str, int] = {}
    assert reconcile(data, key_partition, 2, {"mine": 5}).count == 0
    assert key_partition == {"mine": 2}


@given(
    table=st.dictionaries(keys, st.tuples(st.integers(0, 2), values), max_size=12),
    committed=rows,
    partition=st.integers(0, 2),
)
def test_after_reconcile_the_partition_is_the_changelog_and_the_other_partitions_are_untouched(
    table: dict[str, tuple[int, Any]], committed: dict[str, Any], partition: int
) -> None:
    # Keys belong to one partition: committed keys are this partition's, so drop them from the others.
    table = {k: (p, v) for k, (p, v) in table.items() if p == partition or k not in committed}
    data = {k: v for k, (_p, v) in table.items()}
    key_partition = {k: p for k, (p, _v) in table.items()}
    others = {k: v for k, (p, v) in table.items() if p != partition}

    repair = reconcile(data, key_partition, partition, committed)

    assert {k: data[k] for k, p in key_partition.items() if p == partition} == committed
    assert {k: data[k] for k, p in key_partition.items() if p != partition} == others
    assert set(data) == set(committed) | set(others)
    was = {k: v for k, (p, v) in table.items() if p == partition}
    assert repair.count == sum(1 for k in committed if was.get(k, object()) != committed[k]) + len(
        set(was) - set(committed)
    )
    assert reconcile(data, key_partition, partition, committed).count == 0  # idempotent


def test_a_row_this_worker_wrote_in_an_earlier_ownership_and_another_worker_deleted_is_removed() -> None:
    # Written while this worker owned partition 1 (so never placed by the store), deleted by the next owner.
    data = {"arena-a|w|3": 7, "arena-a|w|4": 1, "arena-b|x": 2}
    key_partition: dict[str, int] = {}
    repair = reconcile(data, key_partition, 1, {"arena-a|w|4": 1}, held=["arena-a|w|3", "arena-a|w|4"])
    assert data == {"arena-a|w|4": 1, "arena-b|x": 2}
    assert repair.extra == ("arena-a|w|3",)
