"""Table recovery that is checked against the committed changelog before the worker processes anything.

Faust rebuilds a table partition by reading its changelog through the worker's own consumer, and
nothing checks that what it applied is what was committed. The two-worker test caught the
consequence in session 2: the worker that gained partitions sometimes started with half-read tables
(rows of one arena disagreeing with each other) while the committed changelogs were whole. Faust's
fetch loop has several ways to lose changelog records around a seek (read in faust-streaming 0.15):
it drops any record below a partition's "read offset", which a batch still being iterated can move
past the offset a recovery seek just asked for; the changelog queue is cleared whenever flow
resumes; and recovery declares a partition done when, after 2 x 5 s without changelog records, the
fetch *position* (not what was applied) has reached the end ('Aborted tx until highwater') - which
is how every recovery of a transactional changelog ends, since its last offset is a commit marker.

Rather than patch each race in Faust's fetch loop, recovery here ends with a check that does not
depend on that loop at all: when Faust says the active partitions are recovered, and before any
stream resumes, each active changelog partition is read again with a plain read_committed consumer,
and the table's rows of that partition are made equal to it (streams/table_reconcile.py), including
rows this worker wrote in an earlier ownership that another worker has deleted since. Whatever the
fetch loop lost, the tables a worker processes with are the committed ones, and every repair is
logged (a lossy recovery is visible, never silent). The test proves it by making a worker forget a
third of what it recovered (`chaos_loss`).

The cost is a second read of the active changelog partitions per rebalance, with one consumer for
all of them (0.5 s for 20 partitions in the tests, most of it the broker's fetch wait).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP, AppT, CollectionT

from streams.table_reconcile import Repair, reconcile

log = logging.getLogger(__name__)

# (changelog topic, partition)s -> each one's committed rows: the last value per key.
CommittedRows = Callable[[list[tuple[str, int]]], Awaitable[dict[tuple[str, int], dict[Any, Any]]]]

# A table key -> the partition its row lives in (the pipeline's keys all start with the arena id).
PartitionOf = Callable[[Any], int]


@dataclass(frozen=True, slots=True)
class Verifier:
    read: CommittedRows
    partition_of: PartitionOf
    # Chaos testing only: the share of each recovered partition's rows to forget before the check, as
    # a lossy recovery would (tests/integration/test_handover.py proves the check restores them).
    chaos_loss: float = 0.0


_verifiers: weakref.WeakKeyDictionary[AppT, Verifier] = weakref.WeakKeyDictionary()


def verify_recovery_with(app: AppT, read: CommittedRows, partition_of: PartitionOf, *, chaos_loss: float = 0.0) -> None:
    """Check every recovery of `app`'s tables against `read` (without it, a worker refuses to resume)."""
    if not 0.0 <= chaos_loss < 1.0:
        raise ValueError(f"chaos_loss must be in [0, 1), got {chaos_loss}")
    _verifiers[app] = Verifier(read, partition_of, chaos_loss)


class VerifiedRecovery(Recovery):
    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        verifier = _verifiers.get(self.app)
        if verifier is None:
            raise RuntimeError("verified recovery has no changelog reader: call verify_recovery_with(app, ...)")
        started = time.monotonic()
        checked = 0
        active = sorted(self.active_tps)
        if verifier.chaos_loss:
            _forget_rows(active, self.tp_to_table, verifier)
        committed = await verifier.read([(tp.topic, tp.partition) for tp in active])
        held: dict[CollectionT, dict[int, list[Any]]] = {}
        for tp in active:
            table = self.tp_to_table[tp]
            if table not in held:
                held[table] = keys_by_partition(table, verifier.partition_of)
            repair = reconcile_table(table, tp, committed[tp.topic, tp.partition], held[table].get(tp.partition, []))
            checked += repair.rows
            if repair.count:
                log.warning(
                    "recovery of %s[%d] did not end at its committed changelog: %s; the rows were rewritten "
                    "from the changelog",
                    tp.topic,
                    tp.partition,
                    repair.describe(),
                )
        log.info(
            "recovery verified: %d changelog partitions, %d rows, %.2fs",
            len(self.active_tps),
            checked,
            time.monotonic() - started,
        )
        await super().on_recovery_completed(generation_id)


def _forget_rows(active: list[TP], tables: Mapping[TP, CollectionT], verifier: Verifier) -> None:
    for tp in active:
        data, key_partition = _memory_of(tables[tp])
        keys = sorted(k for k in data if verifier.partition_of(k) == tp.partition)
        lost = keys[:: max(1, round(1 / verifier.chaos_loss))]
        for key in lost:
            del data[key]
            key_partition.pop(key, None)
        log.warning("chaos: forgot %d of %d recovered rows of %s[%d]", len(lost), len(keys), tp.topic, tp.partition)


def reconcile_table(table: CollectionT, tp: TP, committed: dict[Any, Any], held: list[Any]) -> Repair:
    data, key_partition = _memory_of(table)
    return reconcile(data, key_partition, tp.partition, committed, held)


def keys_by_partition(table: CollectionT, partition_of: PartitionOf) -> dict[int, list[Any]]:
    data, _ = _memory_of(table)
    found: dict[int, list[Any]] = defaultdict(list)
    for key in data:
        found[partition_of(key)].append(key)
    return found


def _memory_of(table: CollectionT) -> tuple[MutableMapping[Any, Any], MutableMapping[Any, int]]:
    store: Any = getattr(table, "data", None)
    data: Any = getattr(store, "data", None)
    key_partition: Any = getattr(store, "_key_partition", None)
    if not isinstance(data, MutableMapping) or not isinstance(key_partition, MutableMapping):
        raise TypeError(f"verified recovery needs Faust's memory store, not {type(store).__name__}")
    return data, key_partition


class VerifiedTableManager(TableManager):
    """Faust's table manager, with the recovery above."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = VerifiedRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


def in_thread(read: Callable[[list[tuple[str, int]]], dict[tuple[str, int], dict[Any, Any]]]) -> CommittedRows:
    """A blocking changelog read, run off the event loop (heartbeats and commits go on meanwhile)."""

    async def run(partitions: list[tuple[str, int]]) -> dict[tuple[str, int], dict[Any, Any]]:
        return await asyncio.to_thread(read, partitions)

    return run
