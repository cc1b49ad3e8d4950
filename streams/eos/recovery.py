"""Table recovery from the committed changelog, read by a plain consumer instead of Faust's fetch loop.

Faust rebuilds a table partition by reading its changelog through the worker's own consumer, and
nothing checks that what it applied is what was committed. The two-worker test caught the
consequence in session 2: the worker that gained partitions sometimes started with half-read tables
(rows of one arena disagreeing with each other) while the committed changelogs were whole. Faust's
fetch loop has several ways to lose changelog records around a seek (read in faust-streaming 0.15):
it drops any record below a partition's "read offset", which a batch still being iterated can move
past the offset a recovery seek just asked for; the changelog queue is cleared whenever flow
resumes; and recovery declares a partition done when, after 2 x 5 s without changelog records, the
fetch *position* (not what was applied) has reached the end ('Aborted tx until highwater'). That
timeout ends every recovery of a transactional changelog, whose last offset is a commit marker, so
each rebalance also cost 10 s.

So Faust's read is skipped for active partitions, and recovery ends here, before any stream resumes:
- A partition this worker **restarts** (gained, or otherwise not continued: streams/eos/ownership.py) is
  read with one read_committed consumer for all of them, once no transaction is open on it (its last
  stable offset equals its end: the previous owner's last transaction is committed, or aborted by this
  worker's producer fencing it; the worker's own were all committed at revocation), and the table's
  rows of that partition are made exactly equal to it (streams/eos/reconcile.py). That includes rows
  this worker still holds from an earlier ownership, which the owner since may have rewritten or
  deleted. The sequencer restarts the same partitions from the group's committed offset.
- A partition it **continues** through the rebalance is not read: its transaction was committed at
  revocation, so its rows are the committed ones already.
Standby replicas are off (worker_app): the memory store drops standby rows after each recovery, and
a promoted partition is loaded here anyway.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from typing import Any

from faust.tables import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP, CollectionT
from faust.types.transports import ConsumerT

from streams.eos import faust_private
from streams.eos.install import PartitionOf, exactly_once
from streams.eos.reconcile import Repair, reconcile

log = logging.getLogger(__name__)


class VerifiedRecovery(Recovery):
    """Recovery whose active partitions are loaded from the committed changelog by a plain consumer."""

    def _changelogs_of_assigned_sources(self) -> set[TP]:
        """Each table's changelog partition for every assigned source partition, assigned or not.

        An assignment made while a changelog topic was missing from the metadata (it did not exist
        yet, or a broker restart cut the metadata short) leaves the changelog out; its partitions must
        be loaded all the same, or the worker would process on empty tables.
        """
        changelogs = faust_private.changelogs(self.tables)
        topics = exactly_once(self.app).changelogs.source_topics
        sources = {tp.partition for tp in self.app.consumer.assignment() if tp.topic in topics}
        return {TP(topic, partition) for topic in changelogs for partition in sources}

    async def _build_offsets(self, consumer: ConsumerT, tps: set[TP], destination: Counter[TP], title: str) -> None:
        await super()._build_offsets(consumer, tps, destination, title)
        if title == "active":
            # Nothing for Faust's own read: the active partitions are loaded in on_recovery_completed.
            # Its read would also wait 2 x 5 s every time, for a last offset that is a commit marker.
            for tp in tps:
                destination[tp] = max(destination[tp], self.active_highwaters[tp])

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        verifier = exactly_once(self.app).changelogs
        started = time.monotonic()
        active = sorted(self.active_tps | self._changelogs_of_assigned_sources())
        # A partition this worker continues through the rebalance is not read: its transaction was
        # committed at revocation, so its rows are the committed ones (streams/eos/ownership.py).
        ownership = exactly_once(self.app).gate.ownership
        gained = [tp for tp in active if not ownership.continues(tp.partition)]
        committed = await verifier.read([(tp.topic, tp.partition) for tp in gained])
        held: dict[CollectionT, dict[int, list[Any]]] = {}
        loaded = 0
        for tp in gained:
            table = faust_private.changelogs(self.tables)[tp.topic]
            # Counted as active, or the memory store would drop the rows just loaded for a changelog
            # the assignment left out.
            self.actives_for_table[table].add(tp)
            if table not in held:
                held[table] = keys_by_partition(table, verifier.partition_of)
            repair = reconcile_table(table, tp, committed[tp.topic, tp.partition], held[table].get(tp.partition, []))
            loaded += repair.rows
            if repair.differing or repair.extra:
                log.info(
                    "%s[%d]: replaced rows left from an earlier ownership: %s",
                    tp.topic,
                    tp.partition,
                    repair.describe(),
                )
        ownership.recovered({tp.partition for tp in active})
        exactly_once(self.app).gate.observer.recovered(
            sorted({tp.partition for tp in gained}), time.monotonic() - started, loaded
        )
        log.info(
            "recovery: %d changelog partitions loaded from the committed changelog (%d rows), %d continued, %.2fs",
            len(gained),
            loaded,
            len(active) - len(gained),
            time.monotonic() - started,
        )
        await super().on_recovery_completed(generation_id)


def reconcile_table(table: CollectionT, tp: TP, committed: dict[Any, Any], held: list[Any]) -> Repair:
    data, key_partition = faust_private.memory_rows(table)
    return reconcile(data, key_partition, tp.partition, committed, held)


def keys_by_partition(table: CollectionT, partition_of: PartitionOf) -> dict[int, list[Any]]:
    data, _ = faust_private.memory_rows(table)
    found: dict[int, list[Any]] = defaultdict(list)
    for key in data:
        found[partition_of(key)].append(key)
    return found


class VerifiedTableManager(TableManager):
    """Faust's table manager, with the recovery above."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = VerifiedRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
