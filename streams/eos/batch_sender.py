"""The records of one unit of work, sent in batches into the transaction of the partition they belong to.

Faust sends a record at a time: each through its producer buffer, its own `send` call, its own future,
and — for a table row — one changelog record per write. At several records per command that was most
of the worker's CPU. A unit of work (a batch of commands, or of events) collects its records here
instead: events, dead letters, alerts and changelog rows, each under the partition number of the
message that caused it (the pipeline's topics are co-partitioned), and `send` hands them to the
partition's transactional aiokafka producer as ready-made record batches, in the order they were added.
Everything a unit sends is in the partition's open transaction, which commits with the unit's offsets
(streams/eos/gate.py) or not at all.

`delivered` waits for every batch sent so far and raises if the broker refused one: a commit must never
cover a batch that did not arrive.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from faust.exceptions import ProducerSendError

# A transactional id -> the aiokafka producer of that transaction (begun).
ProducerFor = Callable[[int], Any]


class BatchSender:
    def __init__(self, producer_for: ProducerFor) -> None:
        self._producer_for = producer_for
        # (topic, partition) -> [(key, value)], in the order added; dicts keep insertion order.
        self._records: dict[tuple[str, int], list[tuple[bytes | None, bytes | None]]] = {}
        self._in_flight: list[asyncio.Future[Any]] = []
        self.records_sent = 0
        self.batches_sent = 0

    def add(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        self._records.setdefault((topic, partition), []).append((key, value))

    @property
    def pending(self) -> int:
        return sum(len(records) for records in self._records.values())

    def discard(self) -> None:
        """Forget what was added and not sent (a unit that failed: its transaction never commits)."""
        self._records.clear()

    async def send(self) -> int:
        """Send everything added, partition by partition; returns the number of records sent."""
        records, self._records = self._records, {}
        sent = 0
        for (topic, partition), rows in records.items():
            producer = self._producer_for(partition)
            batch = producer.create_batch()
            for key, value in rows:
                if batch.append(timestamp=None, key=key, value=value) is None:
                    await self._submit(producer, batch, topic, partition)
                    batch = producer.create_batch()
                    if batch.append(timestamp=None, key=key, value=value) is None:  # pragma: no cover
                        raise ProducerSendError(f"a record for {topic}[{partition}] does not fit an empty batch")
            await self._submit(producer, batch, topic, partition)
            sent += len(rows)
        self.records_sent += sent
        return sent

    async def _submit(self, producer: Any, batch: Any, topic: str, partition: int) -> None:  # noqa: ANN401
        batch.close()
        self._in_flight.append(await producer.send_batch(batch, topic, partition=partition))
        self.batches_sent += 1

    async def delivered(self) -> None:
        """Wait until every batch sent so far is acknowledged; raise the first refusal."""
        in_flight, self._in_flight = self._in_flight, []
        if not in_flight:
            return
        await asyncio.wait(in_flight)
        for future in in_flight:
            error = future.exception()
            if error is not None:
                raise ProducerSendError(f"a batch of the transaction was refused: {error!r}") from error
