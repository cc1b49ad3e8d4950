"""A table whose changes are collected, so a batch writes each changed row once.

The worker's stores write many times to the same rows within a batch of commands (an arena's header
on every command, an agent's row on each of its PnL records). Each write used to become a changelog
record of its own. A `BufferedTable` applies writes to its rows at once (later reads see them) and
remembers only *which* keys changed; at the end of the batch `take_changes()` hands over each changed
row once, with its final value (None for a row deleted), for the worker to send to the changelog in the
batch's transaction.

A deletion of a key the table does not hold changes nothing: the changelog gets no tombstone for a row
it never had.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any


class BufferedTable(MutableMapping[str, Any]):
    def __init__(self, rows: MutableMapping[Any, Any] | None = None) -> None:
        self.rows: MutableMapping[Any, Any] = {} if rows is None else rows
        self._changed: set[str] = set()

    def __getitem__(self, key: str) -> Any:  # noqa: ANN401 - rows are JSON
        return self.rows[key]

    def get(self, key: str, default: Any = None) -> Any:  # noqa: ANN401
        return self.rows.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.rows

    def __setitem__(self, key: str, value: Any) -> None:  # noqa: ANN401
        self.rows[key] = value
        self._changed.add(key)

    def __delitem__(self, key: str) -> None:
        del self.rows[key]
        self._changed.add(key)

    def pop(self, key: str, default: Any = None) -> Any:  # noqa: ANN401 - a missing key is no change
        if key not in self.rows:
            return default
        self._changed.add(key)
        return self.rows.pop(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def take_changes(self) -> dict[str, Any]:
        """Each key changed since the last call, with its final value (None: deleted); then forget them."""
        changes = {key: self.rows.get(key) for key in sorted(self._changed)}
        self._changed.clear()
        return changes

    def discard_changes(self) -> None:
        self._changed.clear()

    @property
    def changed(self) -> int:
        return len(self._changed)
