"""A Faust transport whose exactly-once guarantee holds for every send, not only for some.

faust-streaming 0.15's aiokafka transport has two gaps under `processing_guarantee="exactly_once"`
(upstream faust-streaming/faust#177, robinhood/faust#340), both of which this project's tests
reproduce:

1. `TransactionManager.send` picks the transactional producer from the *consumer's* metadata for the
   destination topic. A sink topic the worker does not consume (our events, alerts and dead-letter
   topics) is unknown there, so the send silently goes through the plain, non-transactional producer:
   an aborted batch still leaks its output, and a crash duplicates it.
2. `Consumer._commit_offsets` commits the transaction without draining the producer buffer that holds
   table changelog writes, so the source offsets can commit while a table update is still waiting for
   the *next* transaction. A kill in between loses that update for good.

The fix, at the depth where the bug lives: a transport (selected by the broker URL scheme
`arena-kafka://`, registered through Faust's `faust.transports` entry point) whose transaction manager

- sends every message through the transactional producer of the partition being processed; the
  destination partition must be known (given explicitly or resolvable), and a send that cannot be
  placed in a transaction raises instead of falling back to a non-transactional producer;
- drains the producer buffer into the open transactions before it commits them;
- offers a processing gate (`unit()`): an agent handles one message — its table writes and all its
  outputs — while holding it, and a commit takes it exclusively. Faust commits from a background task
  that otherwise runs between any two awaits of an agent, so without the gate one command's events
  could straddle two transactions and a crash between them would keep the first half only;
- drains table changelog writes completely before a unit ends and before a commit. Faust's own
  `ProducerBuffer.flush()` gives up after 0.1 s per message and does not wait for the message its
  background task is already sending, so a commit could overtake a changelog write (the crash test
  caught a book row and its source position landing in different transactions).

Both rules rely on co-partitioning, which the pipeline guarantees (streams/topics.py): an event or a
changelog row goes to the same partition number as the command that caused it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from faust import current_event
from faust.exceptions import ProducerSendError
from faust.transport.consumer import TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.transport.producer import ProducerBuffer
from faust.types import TP, HeadersArg
from faust.types.tuples import FutureMessage

SCHEME = "arena-kafka"


class DrainableBuffer(ProducerBuffer):
    """Faust's producer buffer, plus a drain that returns only when nothing is queued or in flight.

    The drain only waits: the buffer's one background task stays the only sender, so changelog writes
    reach Kafka in the order they were made. (Sending from the drain too would let two writes of one
    key overtake each other, and a table recovered from that changelog would go back in time — the
    crash test caught exactly that.)
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._in_flight = 0
        self._progress = asyncio.Event()

    async def _send_pending(self, fut: FutureMessage) -> None:
        self._in_flight += 1
        try:
            await super()._send_pending(fut)
        finally:
            self._in_flight -= 1
            self._progress.set()

    async def drain(self) -> None:
        while not self.pending.empty() or self._in_flight:
            self._progress.clear()
            await self._progress.wait()


class DrainableProducer(aiokafka_driver.Producer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - Faust's signature
        super().__init__(*args, **kwargs)
        buffer = DrainableBuffer(loop=self.loop, beacon=self.beacon)
        buffer.app = self.app
        self.buffer = buffer


class CoPartitionedTransactionManager(TransactionManager):
    """Faust's transaction manager, minus its non-transactional escape hatches."""

    _gate: asyncio.Lock | None = None

    def _lock(self) -> asyncio.Lock:
        if self._gate is None:
            self._gate = asyncio.Lock()
        return self._gate

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[None]:
        """Hold while processing one message: a commit never splits its effects across transactions."""
        async with self._lock():
            yield

    async def drain(self) -> None:
        buffer = self.app.producer.buffer
        if not isinstance(buffer, DrainableBuffer):
            raise ProducerSendError(f"exactly-once needs the {SCHEME}:// producer (got {type(buffer).__name__})")
        await buffer.drain()

    async def send(  # noqa: PLR0917 - Faust's signature
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: HeadersArg | None,
        *,
        transactional_id: str | None = None,
    ) -> Awaitable[Any]:
        del transactional_id  # always derived here; a caller-chosen id could name a foreign transaction
        destination = partition if partition is not None else self.consumer.key_partition(topic, key, None)
        if destination is None:
            raise ProducerSendError(
                f"exactly-once send to {topic!r} has no partition: pass partition= explicitly "
                "(the source partition, since the pipeline's topics are co-partitioned)"
            )
        tid = self._transactional_id_for(topic, destination)
        return await self.producer.send(topic, key, value, destination, timestamp, headers, transactional_id=tid)

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        async with self._lock():
            # Table changelog writes wait in the app producer's buffer; they belong to the transaction
            # that commits the offsets of the events that caused them, so they must be in it first.
            await self.drain()
            return await super().commit(offsets, start_new_transaction=start_new_transaction)

    def _transactional_id_for(self, topic: str, partition: int) -> str:
        groups: Mapping[str, int] = self.app.assignor._topic_groups  # type: ignore[attr-defined]  # no public accessor
        group = groups.get(topic)
        if group is None:
            event = current_event()
            if event is None:
                raise ProducerSendError(
                    f"exactly-once send to {topic!r} outside of stream processing: "
                    "it would not belong to any transaction"
                )
            source = event.message.tp
            if source.partition != partition:
                raise ProducerSendError(
                    f"exactly-once send to {topic}[{partition}] while processing {source.topic}[{source.partition}]: "
                    "the pipeline's topics are co-partitioned, so these must be the same partition number"
                )
            group = groups[source.topic]
        return f"{self.app.conf.id}-{group}-{partition}"


class Transport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with the transaction manager above."""

    TransactionManager = CoPartitionedTransactionManager
    Producer = DrainableProducer
