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
- drains the producer buffer into the open transactions before it commits them.

Both rules rely on co-partitioning, which the pipeline guarantees (streams/topics.py): an event or a
changelog row goes to the same partition number as the command that caused it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from faust import current_event
from faust.exceptions import ProducerSendError
from faust.transport.consumer import TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, HeadersArg

SCHEME = "arena-kafka"


class CoPartitionedTransactionManager(TransactionManager):
    """Faust's transaction manager, minus its two non-transactional escape hatches."""

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
        # Table changelog writes wait in the app producer's buffer; they belong to the transaction
        # that commits the offsets of the events that caused them, so they must be in it first.
        await self.app.producer.buffer.flush()
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
