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

Both rules rely on co-partitioning, which the pipeline guarantees (streams/kafka/topics.py): an event or a
changelog row goes to the same partition number as the command that caused it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
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

from streams.eos.fatal_exit import ExitCode, FatalExit
from streams.eos.offset_sequencer import CommittedOffset, Probe, Sequencer, Verdict, no_committed, no_probe
from streams.eos.ownership import Ownership
from streams.worker.stall_watchdog import log_task_stacks

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
        self.ownership = Ownership()
        self.exit = FatalExit()
        # Between the end of the transactions at revocation and their new begin at assignment nothing
        # may commit or be processed: there is no transaction to put it in. None until this module's
        # transaction manager runs (the smoke test also runs the gate over Faust's stock transport).
        self.transactions_open: bool | None = None
        # For the stall watchdog (streams/worker/stall_watchdog.py): units finished, and when the current one began.
        self.units = 0
        self.unit_began: float | None = None
        self.assigned: frozenset[TP] = frozenset()

    def use_broker(self, probe: Probe, committed: CommittedOffset) -> None:
        """Let the sequencer ask the broker about holes and committed offsets (streams/eos/offset_sequencer.py)."""
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
            if self.transactions_open is False:
                # Delivered before a revocation ended the transactions: there is nothing to process it
                # into. Not acked, so it comes round again after the rebalance, from the committed offset.
                log.info("not processing %s while no transaction is open (a rebalance)", where)
                return
            admission = await self.sequencer.admit(message.tp, message.offset)
            if admission.verdict is Verdict.DUPLICATE:
                log.info("dropped a second delivery of %s", where)
                self.units += 1
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
            self.unit_began = time.monotonic()
            try:
                await work()
            except BaseException as exc:
                self.taint = exc
                self.fail(f"processing failed half-way through {where}, nothing more is committed: {exc!r}")
                raise
            finally:
                self.unit_began = None
            self.sequencer.processed(message.tp, message.offset)
            self.units += 1
            # Acked inside the gate: the next commit includes this offset together with its effects.
            self._ack(event)

    def fail(self, reason: str, code: ExitCode = ExitCode.CRASHED) -> None:
        """A fatal condition: log it once, stop the worker, and make sure the process ends (fatal_exit).

        Callable from any thread (the stall watchdog runs on its own)."""
        loop = self.app.loop

        def stop() -> None:
            # Not awaited: stopping the worker commits, and a commit waits for this very gate.
            def crash() -> None:
                if code is ExitCode.STALLED:
                    log_task_stacks()
                self._crash = asyncio.ensure_future(self.app.crash(TaintedError(reason)))

            loop.call_soon_threadsafe(crash)

        self.exit.fatal(code, reason, stop=stop)

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
            if self.transactions_open is False:
                return False  # a rebalance is under way: its revocation committed everything
            await drain(self.app)
            done = await commit()
            if TRACE:
                log.info("EOS commit done=%s committed=%s", done, dict(self.app.consumer._committed_offset))  # type: ignore[attr-defined]
            return done

    async def end_transactions(self, end: Callable[[], Awaitable[set[int]]]) -> None:
        """End every open transaction before partitions are revoked (or the worker stops).

        Faust leaves them open through a rebalance (and forgets, before its last commit, which offsets
        the revoked partitions had reached, so that commit commits nothing). An open transaction that
        survives a rebalance is what issue 12 ran into: recovery of a partition waited on it until the
        broker rolled it back after 60 s, the rows were reloaded without it while the sequencer went
        on past it, and the producer was fenced. Here `end` commits each transaction with the offsets
        the gate has processed; a partition whose transaction does not commit is restarted from what
        is committed (streams/eos/ownership.py).
        """
        async with self.lock:
            self.transactions_open = False
            if self.taint is not None:
                return  # nothing may commit; the worker is on its way out
            failed = await end()
            if failed:
                self.ownership.transaction_failed(failed)

    def began_transactions(self) -> None:
        self.transactions_open = True


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
            if self.crashed:
                raise ProducerSendError(f"the producer buffer crashed: {self.crash_reason!r}")
            self._progress.clear()
            await self._progress.wait()

    async def crash(self, reason: BaseException) -> None:
        # A crashed buffer sends nothing more, so no commit could ever drain it: Faust's stop then waits
        # for ever (issue 12). The worker must exit instead, and its successor redo the open work.
        self._progress.set()
        if self.app is not None:
            gate_of(self.app).fail(f"the producer buffer crashed: {reason!r}")
        await super().crash(reason)


# Private members of aiokafka this module relies on: a producer's transaction state.
def _in_transaction(producer: Any) -> bool:  # noqa: ANN401 - aiokafka ships no types
    txn = producer._txn_manager
    return txn is not None and bool(txn.is_in_transaction())


class DrainableProducer(aiokafka_driver.Producer):
    """Faust's producer with the drainable buffer, and transactions that are begun once and ended on purpose."""

    end_timeout_s = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401 - Faust's signature
        super().__init__(*args, **kwargs)
        buffer = DrainableBuffer(loop=self.loop, beacon=self.beacon)
        buffer.app = self.app
        self.buffer = buffer

    async def begin_transaction(self, transactional_id: str) -> None:
        """Begin, raising on failure (Faust logs a warning and goes on without a transaction, after which
        every send fails with "Can't send messages while not in transaction")."""
        producer = self._transaction_producers.get(transactional_id)
        if producer is None:
            # A new producer's start fences every older one with this id: the broker aborts what they
            # left open, so the partition's last stable offset moves on at once.
            producer = self._new_producer(transactional_id=transactional_id)
            await producer.start()
            self._transaction_producers[transactional_id] = producer
            self._trn_locks[transactional_id] = asyncio.Lock()
        async with self._trn_locks[transactional_id]:
            if _in_transaction(producer):
                # Faust begins every assigned partition's transaction at each rebalance, kept ones too:
                # "Invalid state transition IN_TRANSACTION -> IN_TRANSACTION". Never begun twice.
                log.warning("transaction %s was still open at assignment; not begun again", transactional_id)
                return
            await producer.begin_transaction()

    async def end_transaction(self, transactional_id: str, offsets: Mapping[TP, int], group_id: str) -> bool:
        """Commit the open transaction of `transactional_id` with `offsets`, and begin none; False if it
        did not commit (the producer is then discarded: the next one with this id fences it)."""
        producer = self._transaction_producers.get(transactional_id)
        if producer is None:
            return True
        try:
            async with self._trn_locks[transactional_id]:
                if not _in_transaction(producer):
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
        producer = self._transaction_producers.pop(transactional_id, None)
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
        gate = gate_of(self.app)
        producer = self.producer
        assert isinstance(producer, DrainableProducer)

        async def end() -> set[int]:
            try:
                await drain(self.app)
            except ProducerSendError as exc:
                gate.fail(str(exc))
                return set()
            by_tid: dict[str, dict[TP, int]] = {}
            for tp, offset in gate.sequencer.positions().items():
                by_tid.setdefault(self._transactional_id_for(tp.topic, tp.partition), {})[tp] = offset
            failed: set[int] = set()
            for tid in sorted(set(producer._transaction_producers) | set(by_tid)):
                if not await producer.end_transaction(tid, by_tid.get(tid, {}), self.app.conf.id):
                    failed.add(_partition_of(tid))
            return failed

        await gate.end_transactions(end)

    async def on_rebalance(self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP]) -> None:
        # Runs after the revocation ended every transaction, and before any message of the new
        # assignment. A partition is continued or restarted as a whole: rows and position together.
        gate = gate_of(self.app)
        generation = int(getattr(self.app, "consumer_generation_id", 0) or 0)
        restarted = gate.ownership.rebalanced(generation, assigned, revoked, newly_assigned)
        gate.sequencer.forget(tp for tp in gate.sequencer.known() if tp.partition in restarted or tp not in assigned)
        gate.assigned = frozenset(assigned)
        await super().on_rebalance(assigned, revoked, newly_assigned)
        gate.began_transactions()

    async def commit(self, offsets: Mapping[TP, int], start_new_transaction: bool = True) -> bool:
        # Table changelog writes wait in the app producer's buffer; they belong to the transaction
        # that commits the offsets of the events that caused them, so they must be in it first.
        gate = gate_of(self.app)
        by_tid: dict[str, dict[TP, int]] = {}
        for tp, offset in offsets.items():
            by_tid.setdefault(self._transactional_id_for(tp.topic, tp.partition), {})[tp] = offset
        try:
            await drain(self.app)
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


def _partition_of(transactional_id: str) -> int:
    return int(transactional_id.rsplit("-", 1)[1])


class Transport(aiokafka_driver.Transport):
    """Faust's aiokafka transport with the transaction manager above."""

    TransactionManager = CoPartitionedTransactionManager
    Producer = DrainableProducer
    Consumer = GatedConsumer
