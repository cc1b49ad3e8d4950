"""What this worker's own tables can answer now, and how to say what an answer reflects.

A worker answers for an arena only when its partition is **served** here: assigned to this worker, its
rows loaded from the committed changelog (or kept through the last rebalance because they were
committed: streams/eos/ownership.py), and no rebalance under way. Anything else — a partition another
worker owns, one whose recovery has not finished, the moment between a revocation and the next
assignment — is not answered from here.

Reads run on the event loop, between units of the processing gate (a unit's table writes are
synchronous, so a read never sees half of one). The tables hold the rows of every processed command,
including those of the transaction still open: an answer is **committed** only when every command
processed on that partition is committed (the gate's next offset equals the consumer's committed one),
and says so in ``served_by.committed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from faust.types import TP, AppT

from schemas.fields import ARENA_ID_PATTERN
from schemas.queries import ServedBy
from streams.domain import ArenaState
from streams.domain.book import ArenaBook
from streams.eos import faust_private
from streams.eos.gate import ProcessingGate
from streams.kafka.partitioning import partition_for
from streams.store.arena_store import ArenaStore


class LocalTables:
    def __init__(
        self,
        app: AppT,
        gate: ProcessingGate,
        arenas: ArenaStore,
        book: Callable[[str], ArenaBook | None],
        *,
        commands_topic: str,
        partitions: int,
        url: str,
        committed_offsets: Callable[[], dict[TP, int | None]] | None = None,
    ) -> None:
        self._app = app
        self._gate = gate
        self._arenas = arenas
        self._book = book
        self._commands = commands_topic
        self.partitions = partitions
        self.url = url
        self._committed = committed_offsets or (lambda: faust_private.committed_offsets(app.consumer))

    def partition_of(self, arena_id: str) -> int:
        return partition_for(arena_id, self.partitions)

    def serving(self) -> frozenset[int]:
        """The partition numbers whose tables this worker answers for now."""
        gate = self._gate
        if gate.transactions_open is not True or gate.exit.code is not None or gate.taint is not None:
            return frozenset()
        return frozenset(
            tp.partition
            for tp in gate.assigned
            if tp.topic == self._commands and gate.ownership.continues(tp.partition)
        )

    def served_by(self, partition: int) -> ServedBy:
        tp = TP(self._commands, partition)
        processed = self._gate.sequencer.next_offset(tp)
        committed = processed is None or processed == self._committed().get(tp)
        return ServedBy(worker=self.url, partition=partition, committed=committed)

    def state(self, arena_id: str) -> ArenaState | None:
        """The arena on record, or None (the caller has checked that its partition is served here)."""
        state = self._arenas.current(arena_id)
        return state if state is not None and state.on_record else None

    def book(self, arena_id: str) -> ArenaBook | None:
        """The ledger processor's book of the arena when this worker's ledger role serves its partition of
        the event topic; None otherwise (the breakdown then has no ledger view)."""
        return self._book(arena_id)

    def arenas(self, partitions: frozenset[int]) -> list[ArenaState]:
        """Every arena on record in these partitions, in id order."""
        found = []
        for arena_id in self._arenas.arena_ids():
            if self.partition_of(arena_id) in partitions:
                state = self.state(arena_id)
                if state is not None:
                    found.append(state)
        return found


def valid_arena_id(arena_id: str) -> bool:
    return _ARENA_ID.fullmatch(arena_id) is not None


_ARENA_ID = re.compile(ARENA_ID_PATTERN)
