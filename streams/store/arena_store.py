"""Arena state kept piecewise in key-value tables, with a decoded cache in front.

The tables (Faust tables in the worker, plain dicts in tests) are the durable copy: each command
writes only the rows it changed — the arena's small header, the agents its events touched and a few
idempotency-window entries — so a command's changelog write does not grow with the arena. The cache
holds the decoded `ArenaState` so a command does not re-read an arena either; it is dropped whenever
partitions move (`invalidate`), and rebuilt from the tables on the next access.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from schemas.events import Event
from streams.domain import ArenaState, StateRows, from_rows, row_changes
from streams.store.row_keys import JsonTable, arena_prefix, row_key, split_key

log = logging.getLogger(__name__)


class ArenaStore:
    """Load an arena's state, save what a command changed; nothing else touches the tables."""

    def __init__(
        self,
        headers: JsonTable,
        agents: JsonTable,
        windows: JsonTable,
        *,
        owns: Callable[[str], bool] = lambda _arena: True,
    ) -> None:
        self._headers = headers
        self._agents = agents
        self._windows = windows
        self._owns = owns
        self._cache: dict[str, ArenaState] = {}
        self._loaded = False

    def invalidate(self) -> None:
        """Forget the decoded cache (partitions moved); the tables stay the truth."""
        self._cache.clear()
        self._loaded = False

    def load(self, arena_id: str) -> ArenaState:
        if not self._loaded or not self._cache_matches_table(arena_id):
            self._load_all()
        state = self._cache.get(arena_id)
        if state is None:
            # Not decodable in the full pass, or not there at all. The arena being processed is on a
            # partition whose recovery is complete, so its rows must agree now: decode it alone, and
            # let a real disagreement raise.
            state = self._decode(arena_id) if self._headers.get(arena_id) is not None else ArenaState.empty(arena_id)
            self._cache[arena_id] = state
        return state

    def _decode(self, arena_id: str) -> ArenaState:
        prefix = arena_prefix(arena_id)
        agents = {key[len(prefix) :]: row for key, row in self._agents.items() if key.startswith(prefix)}
        windows: dict[str, dict[str, int]] = {"c": {}, "f": {}}
        for key, counter in self._windows.items():
            if key.startswith(prefix):
                kind, entry = split_key(key[len(prefix) :])
                windows[kind][entry] = int(counter)
        header = self._headers[arena_id]
        return from_rows(
            StateRows(header=dict(header), agents=agents, command_ids=windows["c"], fill_refs=windows["f"])
        )

    def _cache_matches_table(self, arena_id: str) -> bool:
        """O(1) proof that the decoded arena is the durable one (a cache built before Faust finished
        recovering its tables would otherwise live on: rebalance signals fire before recovery ends)."""
        header = self._headers.get(arena_id)
        cached = self._cache.get(arena_id)
        return (header["last_seq"] if header else 0) == (cached.last_seq if cached else 0)

    def save(self, before: ArenaState, after: ArenaState, events: Iterable[Event]) -> None:
        arena = after.arena_id
        changes = row_changes(before, after, events)
        self._headers[arena] = changes.header
        for agent_id, row in changes.agents.items():
            self._agents[row_key(arena, agent_id)] = row
        for prefix, put, deleted in (
            ("c", changes.command_ids_put, changes.command_ids_deleted),
            ("f", changes.fill_refs_put, changes.fill_refs_deleted),
        ):
            for entry, counter in put.items():
                self._windows[row_key(arena, prefix, entry)] = counter
            for entry in deleted:
                self._windows.pop(row_key(arena, prefix, entry), None)
        self._cache[arena] = after

    def current(self, arena_id: str) -> ArenaState | None:
        """The arena as its rows are now, for a read-only query; None if the tables hold no row of it.

        From the decoded cache when it is the arena the header describes (same seq), else decoded on its
        own. Never changes the cache: a query must not decide what the processor's next load sees.
        """
        header = self._headers.get(arena_id)
        if header is None:
            return None
        cached = self._cache.get(arena_id)
        if cached is not None and cached.last_seq == header["last_seq"]:
            return cached
        return self._decode(arena_id)

    def arena_ids(self) -> list[str]:
        """Every arena the tables hold a header of, owned or not (the caller filters by partition)."""
        return sorted(self._headers.keys())

    def arenas(self) -> dict[str, ArenaState]:
        """Every arena on record this store owns, decoded (for read-only queries and audits); see
        ``ArenaState.on_record`` for why an arena that was never created is one of them."""
        if not self._loaded:
            self._load_all()
        return {arena: state for arena, state in self._cache.items() if state.on_record}

    def _load_all(self) -> None:
        """One pass over the tables rebuilds every owned arena: O(rows) once per rebalance, not per command."""
        agents: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for key, row in self._agents.items():
            arena, agent_id = split_key(key)
            agents[arena][agent_id] = row
        windows: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: {"c": {}, "f": {}})
        for key, counter in self._windows.items():
            arena, rest = split_key(key)
            kind, entry = split_key(rest)
            windows[arena][kind][entry] = int(counter)
        self._cache = {}
        for arena, header in self._headers.items():
            if not self._owns(arena):
                continue
            rows = StateRows(
                header=dict(header),
                agents=agents.get(arena, {}),
                command_ids=windows[arena]["c"],
                fill_refs=windows[arena]["f"],
            )
            try:
                self._cache[arena] = from_rows(rows)
            except ValueError as exc:
                # Faust may run a unit for a partition it kept while it is still recovering the tables
                # of a partition it just gained: that arena's rows can be half-read. It is decoded when
                # it is needed, by then recovered (and `_cache_matches_table` catches a stale one).
                log.info("arena %s not decodable yet (%s): its partition is still recovering", arena, exc)
        self._loaded = True
