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

A third gap is about *when* Faust commits, not how: its commit task runs between any two awaits of an
agent, computes the offsets from the messages acked so far, and commits whatever the open transactions
hold. A message whose table rows are written but whose events are not yet sent, or whose effects are
complete but which the stream only acks when the agent asks for the next one, ends up with its effects
committed and its offset not: after a kill, it is processed a second time. So this transport also has
a **processing gate** (`ProcessingGate`): an agent runs each message as one unit while holding it and
acks the message before letting go; a commit takes the gate before it computes offsets and waits until
every changelog write queued by those units has reached its transaction. A unit is shielded from
cancellation (a clean stop lets it finish), and a unit that fails half-way taints the gate: nothing is
committed after that, the worker crashes, and the open transactions are aborted by the next owner.

Both rules rely on co-partitioning, which the pipeline guarantees (streams/topics.py): an event or a
changelog row goes to the same partition number as the command that caused it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from faust import current_event
from faust.exceptions import ProducerSendError
from faust.transport.consumer import TransactionManager
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.transport.producer import ProducerBuffer
from faust.types import TP, AppT, EventT, HeadersArg, Message
from faust.types.tuples import FutureMessage

from streams.sequencer import CommittedOffset, Probe, Sequencer, Verdict, no_committed, no_probe

SCHEME = "arena-kafka"

log = logging.getLogger(__name__)
TRACE = os.environ.get("ARENA_EOS_TRACE") == "1"


class TaintedError(RuntimeError):
    """A unit failed half-way: its partial effects sit in an open transaction that must never commit."""


class ProcessingGate:
    """Units of processing and commits exclude each other, so a transaction holds whole messages only."""

    def __init__(self, app: AppT) -> None:
        self.app = app
        self.lock = asyncio.Lock()
        self.taint: BaseException | None = None
        self._crash: asyncio.Future[None] | None = None
        self.acking: Message | None = None
        self.sequencer = Sequencer(no_probe, no_committed)

    def use_broker(self, probe: Probe, committed: CommittedOffset) -> None:
        """Let the sequencer ask the broker about holes and committed offsets (streams/sequencer.py)."""
        self.sequencer = Sequencer(probe, committed)

    async def run(self, event: EventT[Any], work: Callable[[], Awaitable[None]]) -> None:
        """Process one message as a unit: all of `work`, then the ack, with no commit in between."""
        # Shielded: a worker that is stopping cancels its agents, but a unit cut in half would leave
        # a half-done message in the transaction the final commit is about to commit.
        await asyncio.shield(asyncio.ensure_future(self._unit(event, work)))

    async def _unit(self, event: EventT[Any], work: Callable[[], Awaitable[None]]) -> None:
        async with self.lock:
            if self.taint is not None:
                raise TaintedError("an earlier unit failed half-way; this worker must restart") from self.taint
            message = event.message
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            admission = await self.sequencer.admit(message.tp, message.offset)
            if admission.verdict is Verdict.DUPLICATE:
                log.info("dropped a second delivery of %s", where)
                self._ack(event)
                return
            if admission.verdict in {Verdict.LOST, Verdict.WAIT}:
                assert admission.seek_to is not None
                if admission.verdict is Verdict.LOST:
                    log.warning("%s arrived but offset %d never did: seeking back to it", where, admission.seek_to)
                await self.app.consumer.seek(message.tp, admission.seek_to)
                return
            if TRACE:
                log.info("EOS unit %s", where)
            try:
                await work()
            except BaseException as exc:
                self.taint = exc
                log.critical("processing failed half-way through a message; no further commit: %r", exc)
                # Not awaited here: stopping the worker commits, and a commit waits for this very gate.
                self._crash = asyncio.ensure_future(self.app.crash(TaintedError(f"unit failed half-way: {exc!r}")))
                raise
            self.sequencer.processed(message.tp, message.offset)
            # Acked inside the gate: the next commit includes this offset together with its effects.
            self._ack(event)

    def _ack(self, event: EventT[Any]) -> None:
        self.acking = event.message
        try:
            event.ack()
        finally:
            self.acking = None

    async def commit(self, commit: Callable[[], Awaitable[bool]]) -> bool:
        async with self.lock:
            if self.taint is not None:
                log.error("commit refused: a unit failed half-way (%r)", self.taint)
                return False
            await drain(self.app)
            done = await commit()
            if TRACE:
                log.info("EOS commit done=%s committed=%s", done, dict(self.app.consumer._committed_offset))  # type: ignore[attr-defined]
            return done


_gates: weakref.WeakKeyDictionary[AppT, ProcessingGate] = weakref.WeakKeyDictionary()


def gate_of(app: AppT) -> ProcessingGate:
    gate = _gates.get(app)
    if gate is None:
        gate = _gates[app] = ProcessingGate(app)
    return gate


async def drain(app: AppT) -> None:
    buffer = app.producer.buffer
    if not isinstance(buffer, DrainableBuffer):
        raise ProducerSendError(f"exactly-once needs the {SCHEME}:// producer (got {type(buffer).__name__})")
    await buffer.drain()


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
            self._progress.clear()
            await self._progress.wait()


class DrainableProducer(aiokafka_driver.Producer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - Faust's signature
        super().__init__(*args, **kwargs)
        buffer = DrainableBuffer(loop=self.loop, beacon=self.beacon)
        buffer.app = self.app
        self.buffer = buffer


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
        offsets: Mapping[TP, int] = await self._ensure_consumer().end_offsets(partitions)
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
        self._acked[tp].clear()
        self._acked_index[tp].clear()
        return gate_of(self.app).sequencer.next_offset(tp)

    def ack(self, message: Message) -> bool:
        if message is not gate_of(self.app).acking and self.app.topics.acks_enabled_for(message.topic):
            self._unacked_messages.discard(message)  # nor must it hold up a rebalance waiting for acks
            log.info("not acking skipped %s[%d]@%d", message.topic, message.partition, message.offset)
            return False
        return super().ack(message)

    async def force_commit(self, topics: Any = None, start_new_transaction: bool = True) -> bool:  # noqa: ANN401
        parent = super().force_commit
        return await gate_of(self.app).commit(lambda: parent(topics, start_new_transaction=start_new_transaction))


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

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP]) -> None:
        # Runs after the revoked partitions' last commit and before any message of the new assignment.
        gate_of(self.app).sequencer.forget(revoked | newly_assigned)
        await super().on_rebalance(assigned, revoked, newly_assigned)

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        # Table changelog writes wait in the app producer's buffer; they belong to the transaction
        # that commits the offsets of the events that caused them, so they must be in it first.
        await drain(self.app)
        return await super().commit(offsets, start_new_transaction=start_new_transaction)

    def _transactional_id_for(self, topic: str, partition: int) -> str:
        groups: Mapping[str, int] = self.app.assignor._topic_groups  # type: ignore[attr-defined]  # no public accessor
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


class Transport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with the transaction manager above."""

    TransactionManager = CoPartitionedTransactionManager
    Producer = DrainableProducer
    Consumer = GatedConsumer
