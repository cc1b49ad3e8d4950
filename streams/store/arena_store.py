"""Arena state kept piecewise in key-value tables, with a decoded cache in front.

The tables (Faust tables in the worker, plain dicts in tests) are the durable copy, kept as rows: the
arena's small header, one row per agent, and the idempotency windows in chunks of `WINDOW_CHUNK`
entries. A command changes the header, the agents its events touched and the newest window chunk; a
`save` only notes the arena's new state, and `flush` writes what changed since the last flush — once,
however many commands of a batch changed it — so the changelog carries one record per changed row per
batch, not one per command. The cache holds the decoded `ArenaState`, so a command does not re-read an
arena either; it is dropped whenever partitions move (`invalidate`) and rebuilt from the tables.

Window rows: `<arena>␟c#<n>` holds command ids, `<arena>␟f#<n>` fill refs, as `{"from": counter,
"keys": [...]}` (keys[i] has counter from+i); an entry below the header's window head is forgotten.
Rows written before chunks (`<arena>␟c␟<id>` -> counter) are still read, and deleted as their ids leave
the window.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, Final

from schemas.events import Event
from streams.domain import ArenaState, StateRows, from_rows, touched_agents
from streams.domain.rows import agent_row, header_row
from streams.domain.window import Window
from streams.store.row_keys import JsonTable, arena_prefix, row_key, split_key

log = logging.getLogger(__name__)

WINDOW_CHUNK: Final = 256
_KINDS: Final = ("c", "f")  # command ids, fill refs


class ArenaStore:
    """Load an arena's state, note what commands changed, write it once per flush."""

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
        # Since the last flush: each arena's state as of that flush, and the agents its events touched.
        self._flushed: dict[str, ArenaState] = {}
        self._touched: dict[str, set[str]] = defaultdict(set)
        self._legacy_windows = True  # rows of the one-row-per-id format may exist until a load shows none

    def invalidate(self) -> None:
        """Forget the decoded cache (partitions moved); the tables stay the truth. Unflushed changes are
        dropped with it: they belong to a batch that is not committed (the worker flushes every unit)."""
        self._cache.clear()
        self._flushed.clear()
        self._touched.clear()
        self._loaded = False

    def load(self, arena_id: str) -> ArenaState:
        if arena_id in self._flushed:
            return self._cache[arena_id]  # changed in this batch: the cache is ahead of the tables
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
        windows = _WindowRows()
        for key, value in self._windows.items():
            if key.startswith(prefix):
                windows.add(key[len(prefix) :], value)
        header = self._headers[arena_id]
        return from_rows(windows.rows(dict(header), agents))

    def _cache_matches_table(self, arena_id: str) -> bool:
        """O(1) proof that the decoded arena is the durable one (a cache built before Faust finished
        recovering its tables would otherwise live on: rebalance signals fire before recovery ends)."""
        header = self._headers.get(arena_id)
        cached = self._cache.get(arena_id)
        return (header["last_seq"] if header else 0) == (cached.last_seq if cached else 0)

    def save(self, before: ArenaState, after: ArenaState, events: Iterable[Event]) -> None:
        """Note a command's effect; the rows are written by `flush`."""
        arena = after.arena_id
        self._flushed.setdefault(arena, before)
        touched = self._touched[arena]
        for event in events:
            touched.update(touched_agents(event))
        self._cache[arena] = after

    def flush(self) -> int:
        """Write every row changed since the last flush, once; returns the number of arenas written."""
        for arena, before in self._flushed.items():
            self._write(before, self._cache[arena], self._touched.get(arena, set()))
        written = len(self._flushed)
        self._flushed.clear()
        self._touched.clear()
        return written

    def _write(self, before: ArenaState, after: ArenaState, touched: set[str]) -> None:
        arena = after.arena_id
        self._headers[arena] = header_row(after)
        for agent_id in sorted(touched):
            self._agents[row_key(arena, agent_id)] = agent_row(after.agents[agent_id])
        for kind, old, new in (("c", before.command_ids, after.command_ids), ("f", before.fill_refs, after.fill_refs)):
            self._write_window(arena, kind, old, new)

    def _write_window(self, arena: str, kind: str, old: Window, new: Window) -> None:
        low, high = max(old.tail, new.head), new.tail
        if high > low:
            for chunk in range(low // WINDOW_CHUNK, (high - 1) // WINDOW_CHUNK + 1):
                first = max(chunk * WINDOW_CHUNK, new.head)
                last = min((chunk + 1) * WINDOW_CHUNK, high)
                keys = [new.by_counter[counter] for counter in range(first, last)]
                self._windows[row_key(arena, f"{kind}#{chunk}")] = {"from": first, "keys": keys}
        for chunk in range(old.head // WINDOW_CHUNK, new.head // WINDOW_CHUNK):
            self._windows.pop(row_key(arena, f"{kind}#{chunk}"), None)  # every entry of it evicted
        if self._legacy_windows and new.head > old.head:
            _added, evicted = new.changes_since(old)
            for entry in evicted:
                self._windows.pop(row_key(arena, kind, entry), None)

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
        self.flush()  # changes noted in this batch reach the tables first, or the rebuild would lose them
        agents: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        for key, row in self._agents.items():
            arena, agent_id = split_key(key)
            agents[arena][agent_id] = row
        windows: dict[str, _WindowRows] = defaultdict(_WindowRows)
        for key, value in self._windows.items():
            arena, rest = split_key(key)
            windows[arena].add(rest, value)
        self._legacy_windows = any(w.legacy for w in windows.values())
        self._cache = {}
        for arena, header in self._headers.items():
            if not self._owns(arena):
                continue
            try:
                self._cache[arena] = from_rows(windows[arena].rows(dict(header), agents.get(arena, {})))
            except ValueError as exc:
                # Faust may run a unit for a partition it kept while it is still recovering the tables
                # of a partition it just gained: that arena's rows can be half-read. It is decoded when
                # it is needed, by then recovered (and `_cache_matches_table` catches a stale one).
                log.info("arena %s not decodable yet (%s): its partition is still recovering", arena, exc)
        self._loaded = True


class _WindowRows:
    """An arena's window rows as read, in either format, turned back into `StateRows` entries."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, int]] = {kind: {} for kind in _KINDS}
        self.legacy = False

    def add(self, rest: str, value: Any) -> None:  # noqa: ANN401 - a JSON row
        if isinstance(value, dict):  # "<kind>#<chunk>" -> {"from": counter, "keys": [...]}
            found = self.entries[rest.partition("#")[0]]
            for offset, key in enumerate(value["keys"]):
                found[key] = value["from"] + offset
        else:  # "<kind>␟<id>" -> counter, one row per id
            kind, entry = split_key(rest)
            self.entries[kind][entry] = int(value)
            self.legacy = True

    def rows(self, header: dict[str, Any], agents: dict[str, dict[str, Any]]) -> StateRows:
        """The header's window bounds decide which entries still count (a chunk keeps evicted ids)."""
        return StateRows(
            header=header,
            agents=agents,
            command_ids=_live(self.entries["c"], header["command_ids"]),
            fill_refs=_live(self.entries["f"], header["fill_refs"]),
        )


def _live(entries: dict[str, int], bounds: list[int]) -> dict[str, int]:
    _capacity, head, tail = bounds
    return {key: counter for key, counter in entries.items() if head <= counter < tail}
