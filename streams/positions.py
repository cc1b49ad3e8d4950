"""Where each processor has got to in its input, stored with its state, in the same transaction.

Faust acks a message after its agent moves on, and commits acked offsets from a background task, so
a crash can leave a message's effects committed while its offset is not: the message is delivered
again. Each processor therefore records, per input partition, the offset of the last message it
applied, in its own table (committed atomically with the state it changed). A redelivered message at
or below that position was already applied and is skipped; anything new — even an old event written
again at a new offset — is processed and judged on its merits.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any


class Positions:
    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self._table = table

    @staticmethod
    def _key(topic: str, partition: int) -> str:
        return f"{topic}/{partition}"

    def already_applied(self, topic: str, partition: int, offset: int) -> bool:
        last = self._table.get(self._key(topic, partition))
        return last is not None and offset <= int(last)

    def record(self, topic: str, partition: int, offset: int) -> None:
        self._table[self._key(topic, partition)] = offset
