"""Make one partition of an in-memory table equal to its committed changelog: the pure half of verified recovery.

A table partition is defined by its changelog: the last committed value of each key, deletions
applied. `reconcile` compares what the table holds for a partition with that, and rewrites the rows
that differ, so a recovery that lost records on the way (streams/eos/recovery.py says how
Faust's can) ends exactly where the changelog is. Rows of other partitions are never touched.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Repair:
    """Keys whose row was missing, held a different value, or should have been deleted."""

    missing: tuple[Hashable, ...] = ()
    differing: tuple[Hashable, ...] = ()
    extra: tuple[Hashable, ...] = ()
    rows: int = field(default=0, compare=False)  # committed rows checked

    @property
    def count(self) -> int:
        return len(self.missing) + len(self.differing) + len(self.extra)

    def describe(self, limit: int = 5) -> str:
        parts = [
            f"{len(keys)} {what} (e.g. {', '.join(map(repr, keys[:limit]))})"
            for what, keys in (("missing", self.missing), ("differing", self.differing), ("extra", self.extra))
            if keys
        ]
        return "; ".join(parts) if parts else "none"


def reconcile(
    data: MutableMapping[Any, Any],
    key_partition: MutableMapping[Any, int],
    partition: int,
    committed: Mapping[Any, Any],
    held: Iterable[Any] = (),
) -> Repair:
    """Rewrite `data` so its rows of `partition` are exactly `committed`; return what was wrong.

    `key_partition` maps each key to the partition its row came from (Faust's memory store keeps it
    for rows read from a changelog). `held` names more keys of `partition` (rows this worker wrote
    itself when it owned the partition before, which the store never placed). A key of either that
    is not committed is extra: a row deleted since, or never committed.
    """
    missing: list[Hashable] = []
    differing: list[Hashable] = []
    for key, value in committed.items():
        if key not in data:
            missing.append(key)
        elif data[key] != value:
            differing.append(key)
        else:
            key_partition[key] = partition
            continue
        data[key] = value
        key_partition[key] = partition
    placed = {key for key, p in key_partition.items() if p == partition}
    extra = sorted(
        (key for key in placed.union(held) if key not in committed and (key in data or key in placed)), key=repr
    )
    for key in extra:
        data.pop(key, None)
        key_partition.pop(key, None)
    return Repair(tuple(missing), tuple(differing), tuple(extra), rows=len(committed))
