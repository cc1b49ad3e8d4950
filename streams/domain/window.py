"""Bounded FIFO windows of recently seen keys (command ids, fill refs).

Two ``immutables.Map`` s, key -> counter and counter -> key, give O(log n) membership, insertion
and eviction of the oldest entry while staying persistent (old states stay valid, which ``evolve``
needs to be pure). Counters are contiguous from ``head`` (oldest) to ``tail - 1`` (newest) because
entries only ever leave from the head.

The bound is the point: an arena's state must not grow with its history. The price is explicit:
a key older than the last ``capacity`` keys is forgotten, so a command id resent after more than
``command_id_window`` newer commands is processed again, and a fill ref resent after more than
``fill_ref_window`` newer fills is recorded again. Producers retry within seconds, far inside both
windows; size the windows in ``EvolutionPolicy`` for the slowest retry you must absorb.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from immutables import Map


@dataclass(frozen=True, slots=True)
class Window:
    capacity: int
    head: int = 0
    tail: int = 0
    by_key: Map[str, int] = field(default_factory=Map)
    by_counter: Map[int, str] = field(default_factory=Map)

    def __contains__(self, key: str) -> bool:
        return key in self.by_key

    def __len__(self) -> int:
        return self.tail - self.head

    def add(self, key: str) -> Window:
        """Remember ``key``; a key already present keeps its place (re-adding is idempotent)."""
        if key in self.by_key:
            return self
        by_key = self.by_key.set(key, self.tail)
        by_counter = self.by_counter.set(self.tail, key)
        head = self.head
        while self.tail + 1 - head > self.capacity:
            by_key = by_key.delete(by_counter[head])
            by_counter = by_counter.delete(head)
            head += 1
        return Window(self.capacity, head, self.tail + 1, by_key, by_counter)

    def resized(self, capacity: int) -> Window:
        """Same entries under a new bound, evicting the oldest if it shrank."""
        by_key, by_counter, head = self.by_key, self.by_counter, self.head
        while self.tail - head > capacity:
            by_key = by_key.delete(by_counter[head])
            by_counter = by_counter.delete(head)
            head += 1
        return Window(capacity, head, self.tail, by_key, by_counter)

    def entries(self) -> Iterator[tuple[int, str]]:
        """(counter, key), oldest first."""
        for counter in range(self.head, self.tail):
            yield counter, self.by_counter[counter]

    def changes_since(self, before: Window) -> tuple[dict[str, int], tuple[str, ...]]:
        """Keys added (with their counters) and keys evicted between ``before`` and ``self``.

        Cost is proportional to the change, so a stream processor can persist only the delta.
        """
        added = {self.by_counter[c]: c for c in range(max(before.tail, self.head), self.tail) if c in self.by_counter}
        evicted = tuple(
            before.by_counter[c] for c in range(before.head, min(self.head, before.tail)) if c in before.by_counter
        )
        return added, evicted

    @classmethod
    def from_entries(cls, capacity: int, head: int, tail: int, entries: dict[str, int]) -> Window:
        by_key: Map[str, int] = Map(entries)
        by_counter: Map[int, str] = Map({counter: key for key, counter in entries.items()})
        if len(by_key) != tail - head or any(not head <= c < tail for c in entries.values()):
            raise ValueError("window entries do not match head/tail")
        return cls(capacity, head, tail, by_key, by_counter)
