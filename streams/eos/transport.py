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

A third gap is about *when* Faust commits, not how: the processing gate (streams/eos/gate.py) closes
it. A fourth is what happens to open transactions through a rebalance: Faust leaves them open, which
issue 12 ran into (see `CoPartitionedTransactionManager.end_all`).

Both rules rely on co-partitioning, which the pipeline guarantees (streams/kafka/topics.py): an event or a
changelog row goes to the same partition number as the command that caused it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from typing import Any

from faust import current_event
from faust.exceptions import ProducerSendError
from faust.transport.consumer import TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.transport.producer import ProducerBuffer
from faust.types import TP, HeadersArg, Message
from faust.types.tuples import FutureMessage

from streams.eos import faust_private as private
from streams.eos.install import exactly_once

log = logging.getLogger(__name__)


class DrainableBuffer(ProducerBuffer):
    """Faust's producer buffer, plus a drain that returns only when nothing is queued or in flight.

    Faust's own `flush()` gives up after 0.1 s per message and ignores the message its background task
    is sending, so a commit could overtake a changelog write. The drain only waits: the buffer's one
    background task stays the only sender, so writes of one key reach Kafka in the order they were made
    (a second sender would let them overtake each other, and a table recovered from that changelog
    would go back in time).
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
            if self.crashed:
                raise ProducerSendError(f"the producer buffer crashed: {self.crash_reason!r}")
            self._progress.clear()
            await self._progress.wait()

    async def crash(self, reason: BaseException) -> None:
        # A crashed buffer sends nothing more, so no commit could ever drain it: Faust's stop then waits
        # for ever (issue 12). The worker must exit instead, and its successor redo the open work.
        self._progress.set()
        if self.app is not None:
            exactly_once(self.app).gate.fail(f"the producer buffer crashed: {reason!r}")
        await super().crash(reason)


class DrainableProducer(aiokafka_driver.Producer):
    """Faust's producer with the drainable buffer, and transactions that are begun once and ended on purpose."""

    end_timeout_s = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - Faust's signature
        super().__init__(*args, **kwargs)
        buffer = DrainableBuffer(loop=self.loop, beacon=self.beacon)
        buffer.app = self.app
        self.buffer = buffer
        # Faust keeps these on the class, shared by every producer of the process; two apps in one worker
        # (the command and ledger roles) must each end only their own transactions.
        self._transaction_producers: dict[str, Any] = {}
        self._trn_locks: dict[str, asyncio.Lock] = {}

    async def begin_transaction(self, transactional_id: str) -> None:
        """Begin, raising on failure (Faust logs a warning and goes on without a transaction, after which
        every send fails with "Can't send messages while not in transaction")."""
        producer = private.transaction_producers(self).get(transactional_id)
        if producer is None:
            # A new producer's start fences every older one with this id: the broker aborts what they
            # left open, so the partition's last stable offset moves on at once.
            producer = self._new_producer(transactional_id=transactional_id)
            await producer.start()
            private.transaction_producers(self)[transactional_id] = producer
            private.transaction_locks(self)[transactional_id] = asyncio.Lock()
        async with private.transaction_locks(self)[transactional_id]:
            if private.in_transaction(producer):
                # Faust begins every assigned partition's transaction at each rebalance, kept ones too:
                # "Invalid state transition IN_TRANSACTION -> IN_TRANSACTION". Never begun twice.
                log.warning("transaction %s was still open at assignment; not begun again", transactional_id)
                return
            await producer.begin_transaction()

    async def end_transaction(self, transactional_id: str, offsets: Mapping[TP, int], group_id: str) -> bool:
        """Commit the open transaction of `transactional_id` with `offsets`, and begin none; False if it
        did not commit (the producer is then discarded: the next one with this id fences it)."""
        producer = private.transaction_producers(self).get(transactional_id)
        if producer is None:
            return True
        try:
            async with private.transaction_locks(self)[transactional_id]:
                if not private.in_transaction(producer):
                    return True
                if offsets:
                    await asyncio.wait_for(
                        producer.send_offsets_to_transaction(dict(offsets), group_id), self.end_timeout_s
                    )
                await asyncio.wait_for(producer.commit_transaction(), self.end_timeout_s)
                return True
        except Exception as exc:  # noqa: BLE001 - any failure means the same: the outcome is not ours to trust
            log.warning(
                "transaction %s did not commit at revocation (%r): its partition restarts from what is committed",
                transactional_id,
                exc,
            )
            await self.discard_transaction(transactional_id)
            return False

    async def discard_transaction(self, transactional_id: str) -> None:
        producer = private.transaction_producers(self).pop(transactional_id, None)
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.stop(), self.end_timeout_s)
        except Exception as exc:  # noqa: BLE001 - a producer that will not stop is fenced by its successor anyway
            log.warning("could not stop the producer of %s cleanly: %r", transactional_id, exc)


class StableOffsetsConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's consumer thread, asking the broker for the changelogs' last stable offsets.

    Under exactly-once, Faust takes a changelog's end for table recovery from aiokafka's
    `last_stable_offset(tp)`, which is only known once that partition has been *fetched*. A worker
    that has just started has fetched nothing, gets None, takes the changelog for empty and starts
    with empty tables (the crash test caught the ledger resuming at seq 258 with an empty head). A
    ListOffsets request at the consumer's isolation level (read_committed) returns the same last stable
    offset, straight from the broker, fetched or not.
    """

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        offsets: Mapping[TP, int] = await private.aiokafka_consumer(self).end_offsets(partitions)
        return offsets


class GatedConsumer(aiokafka_driver.Consumer):
    """Faust's consumer whose every commit (timer, rebalance, stop) goes through the processing gate,
    and which only accepts the acks the gate gives.

    Faust's stream *skips* a message fetched under an older consumer generation (one that arrives
    during a rebalance), and acks it as if processed, so its offset could be committed without the
    message ever being handled: after a crash-and-rejoin the crash test lost whole commands that way
    (and the ledger saw gaps in the event sequence). Refused here, the skipped offset stays
    uncommitted and the seek to the committed position after the rebalance delivers it again.
    """

    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return StableOffsetsConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _new_offset(self, tp: TP) -> int | None:
        # The offset to commit is the one after the last message the gate processed. Faust's own
        # reckoning (acked offsets minus "gaps") cannot tell a transaction marker from a missing
        # message: the crash test saw it stall below a marker for good, and so never commit again.
        # Within one ownership of a partition the gate sees its messages in order from the committed
        # position, so everything up to the last processed one is done.
        private.forget_acks(self, tp)
        return exactly_once(self.app).gate.sequencer.next_offset(tp)

    def ack(self, message: Message) -> bool:
        if message.acked:
            return False  # acked by the gate already; the stream acks each message once more after its unit
        if message is not exactly_once(self.app).gate.acking and self.app.topics.acks_enabled_for(message.topic):
            private.stop_waiting_for(self, message)  # nor must it hold up a rebalance waiting for acks
            log.info("not acking skipped %s[%d]@%d", message.topic, message.partition, message.offset)
            return False
        return super().ack(message)

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:  # noqa: ANN401
        parent = super().force_commit
        gate = exactly_once(self.app).gate
        return await gate.commit(lambda: parent(topics, start_new_transaction=start_new_transaction))

    async def commit_and_end_transactions(self) -> None:
        # Faust's version commits only partitions with new acks, and leaves every other transaction open.
        transactions = self.transactions
        assert isinstance(transactions, CoPartitionedTransactionManager)
        await transactions.end_all()


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

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        # Runs once every delivered message is processed and before the partitions go: the last moment
        # the open transactions can commit what was processed under this assignment.
        await super().on_partitions_revoked(revoked)
        await self.end_all()

    async def end_all(self) -> None:
        """Commit every open transaction with the offsets processed so far; begin none."""
        gate = exactly_once(self.app).gate
        producer = self.producer
        assert isinstance(producer, DrainableProducer)

        async def end() -> set[int]:
            try:
                await exactly_once(self.app).gate.drain()
            except ProducerSendError as exc:
                gate.fail(str(exc))
                return set()
            by_tid: dict[str, dict[TP, int]] = {}
            for tp, offset in gate.sequencer.positions().items():
                by_tid.setdefault(self._transactional_id_for(tp.topic, tp.partition), {})[tp] = offset
            failed: set[int] = set()
            for tid in sorted(set(private.transaction_producers(producer)) | set(by_tid)):
                if not await producer.end_transaction(tid, by_tid.get(tid, {}), self.app.conf.id):
                    failed.add(_partition_of(tid))
            return failed

        await gate.end_transactions(end)

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP]) -> None:
        # Runs after the revocation ended every transaction, and before any message of the new
        # assignment. A partition is continued or restarted as a whole: rows and position together.
        gate = exactly_once(self.app).gate
        generation = int(getattr(self.app, "consumer_generation_id", 0) or 0)
        restarted = gate.ownership.rebalanced(generation, assigned, revoked, newly_assigned)
        gate.sequencer.forget(tp for tp in gate.sequencer.known() if tp.partition in restarted or tp not in assigned)
        gate.assigned = frozenset(assigned)
        await super().on_rebalance(assigned, revoked, newly_assigned)
        gate.began_transactions()

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        # Table changelog writes wait in the app producer's buffer; they belong to the transaction
        # that commits the offsets of the events that caused them, so they must be in it first.
        gate = exactly_once(self.app).gate
        by_tid: dict[str, dict[TP, int]] = {}
        for tp, offset in offsets.items():
            by_tid.setdefault(self._transactional_id_for(tp.topic, tp.partition), {})[tp] = offset
        try:
            await exactly_once(self.app).gate.drain()
            # Not Faust's commit: it takes a fenced producer for a crash and reports success all the same.
            await self.producer.commit_transactions(
                by_tid, self.app.conf.id, start_new_transaction=start_new_transaction
            )
            return True
        except Exception as exc:  # noqa: BLE001 - whatever failed, the worker cannot go on (see below)
            # Some transactions may have committed and others not: the worker cannot tell its rows from
            # the committed ones any more. Its successor starts from what is committed.
            gate.taint = exc
            gate.fail(f"a transaction could not be committed: {exc!r}")
            return False

    def producer_for_partition(self, partition: int) -> Any:  # noqa: ANN401 - aiokafka's producer
        """The producer of the transaction that commits `partition`'s offsets (the batch sender's target)."""
        groups = set(private.topic_groups(self.app).values())
        if len(groups) != 1:
            raise ProducerSendError(f"the pipeline's topics should form one co-partitioned group, found {groups}")
        (group,) = groups
        tid = f"{self.app.conf.id}-{group}-{partition}"
        producer = private.transaction_producers(self.producer).get(tid)
        if producer is None:
            raise ProducerSendError(f"no transaction is open for partition {partition} ({tid})")
        return producer

    def _transactional_id_for(self, topic: str, partition: int) -> str:
        groups = private.topic_groups(self.app)
        group = groups.get(topic)
        if group is None and topic in self.app.tables.changelog_topics and len(set(groups.values())) == 1:
            # A changelog the assignment was made without (it did not exist yet, or the metadata was
            # cut short by a broker restart): the pipeline's topics form one co-partitioned group.
            (group,) = set(groups.values())
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


def _partition_of(transactional_id: str) -> int:
    return int(transactional_id.rsplit("-", 1)[1])


class Transport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with the transaction manager above."""

    TransactionManager = CoPartitionedTransactionManager
    Producer = DrainableProducer
    Consumer = GatedConsumer
