"""How table rows are keyed: every key starts with the arena id, then the unit separator.

Two rules rest on this. A key's arena says which partition its row belongs to (the tables are
co-partitioned with the commands: `arena_of_row`), which is how recovery places rows it reloads; and a
prefix scan `"<arena>\\x1f"` finds an arena's rows. The separator cannot occur in an arena id (the
schemas' id pattern allows letters, digits, `_`, `.` and `-` only).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

SEP = "\x1f"

# A table as the stores see it: JSON-able keys and rows (a Faust table, or a plain dict).
JsonTable = MutableMapping[str, Any]


def row_key(arena_id: str, *parts: str) -> str:
    return SEP.join((arena_id, *parts))


def split_key(key: str) -> tuple[str, str]:
    """(arena id, the rest of the key)."""
    arena, _, rest = key.partition(SEP)
    return arena, rest


def arena_prefix(arena_id: str) -> str:
    return f"{arena_id}{SEP}"


def arena_of_row(key: object) -> str:
    """The arena a row belongs to, for any table's key (a header's key is the arena id itself)."""
    return str(key).partition(SEP)[0]
