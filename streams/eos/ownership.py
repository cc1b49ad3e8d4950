"""Which partitions a worker carries on through a rebalance, and which it must start again: one rule.

A worker's state of a partition is two things that must always agree: the table rows it holds (the
arena and ledger state) and the sequencer's position (the next offset it will process). Through a
rebalance each partition is either

- **continued**: both are kept as they are; this is only sound when both equal what is committed,
  which holds once the worker's open transaction was committed before the partitions were revoked; or
- **restarted**: the rows are reloaded from the committed changelog and the sequencer starts again from
  the group's committed offset, so both go back to the same committed point together.

Issue 12 was the two halves following different rules: recovery reloaded a partition's rows (its
changelog partition was newly assigned) while the sequencer kept its position (the source partition was
kept), after the broker had rolled back the transaction that held the newer rows. The ledger then went
on from rolled-back balances: false SEQ_GAP and HASH_CHAIN_BROKEN alerts. Here one decision, by partition
number (the pipeline's topics are co-partitioned), serves both.

A partition is restarted when any of its topic-partitions was revoked or newly assigned, when its
transaction could not be committed at revocation (aborted, fenced, or unknown), when the worker missed a
generation (someone else may have owned it meanwhile), or when its last recovery never completed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from faust.types import TP


@dataclass(slots=True)
class Ownership:
    _continuing: set[int] = field(default_factory=set)  # partitions whose rows and position are committed
    _failed: set[int] = field(default_factory=set)  # transactions that did not commit at revocation
    _generation: int | None = None
    restarted: frozenset[int] = frozenset()  # of the latest assignment

    def transaction_failed(self, partitions: Iterable[int]) -> None:
        """These partitions' open transaction ended in an abort (or an unknown outcome)."""
        self._failed.update(partitions)
        self._continuing.difference_update(partitions)

    def rebalanced(
        self, generation: int, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP]
    ) -> frozenset[int]:
        """Decide the new assignment; returns the partition numbers that must be restarted."""
        moved = {tp.partition for tp in revoked | newly_assigned} | self._failed
        self._failed.clear()
        if self._generation is not None and generation != self._generation + 1:
            self._continuing.clear()
        self._generation = generation
        owned = {tp.partition for tp in assigned}
        self._continuing = (self._continuing - moved) & owned
        self.restarted = frozenset(owned - self._continuing)
        return self.restarted

    def continues(self, partition: int) -> bool:
        return partition in self._continuing

    def recovered(self, partitions: Iterable[int]) -> None:
        """Recovery completed: these partitions' rows and positions are the committed ones from now on."""
        self._continuing.update(partitions)
