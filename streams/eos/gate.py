"""The processing gate: units of processing and commits exclude each other.

Faust commits from a background task between any two awaits of an agent: it computes the offsets
from the messages acked so far and commits whatever the open transactions hold. A message whose table
rows are written but whose events are not yet sent, or whose effects are complete but which the stream
only acks when the agent asks for the next one, ends up with its effects committed and its offset not:
after a kill, it is processed a second time. So an agent runs each message as one **unit** while
holding the gate and acks it before letting go; a commit takes the gate before it computes offsets and
drains every changelog write queued by those units into its transaction. A unit is shielded from
cancellation (a clean stop lets it finish), and a unit that fails half-way taints the gate: nothing is
committed after that, and the worker exits (streams/eos/fatal_exit.py) for its successor to redo the
open work from what is committed.

The gate also keeps the books a commit needs: the offset sequencer (each offset processed once, in
order, none skipped) and the ownership of partitions through rebalances (streams/eos/ownership.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from faust.types import TP, AppT, EventT, Message

from streams.eos import faust_private
from streams.eos.batch_sender import BatchSender
from streams.eos.fatal_exit import ExitCode, FatalExit, log_task_stacks
from streams.eos.observer import NO_OBSERVER, EosObserver
from streams.eos.offset_sequencer import CommittedOffset, OffsetSequencer, Probe, Verdict, no_committed, no_probe
from streams.eos.ownership import Ownership

log = logging.getLogger(__name__)


class Drainable(Protocol):
    """The producer buffer of the exactly-once transport (streams/eos/transport.py)."""

    async def drain(self) -> None: ...


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
        self.sequencer = OffsetSequencer(no_probe, no_committed)
        self.ownership = Ownership()
        self.trace = False  # log every unit and commit
        self.exit = FatalExit()
        # Between the end of the transactions at revocation and their new begin at assignment nothing
        # may commit or be processed: there is no transaction to put it in. None until this module's
        # transaction manager runs (the smoke test also runs the gate over Faust's stock transport).
        self.transactions_open: bool | None = None
        # For the stall watchdog (streams/worker/stall_watchdog.py): units finished, and when the current one began.
        self.units = 0
        self.unit_began: float | None = None
        self.assigned: frozenset[TP] = frozenset()
        # What a unit sends goes in batches into its partition's transaction (streams/eos/batch_sender.py).
        self.sender = BatchSender(self._producer_for)
        self.observer: EosObserver = NO_OBSERVER  # the worker's metrics (streams/eos/observer.py)

    def use_broker(self, probe: Probe, committed: CommittedOffset) -> None:
        """Let the sequencer ask the broker about holes and committed offsets (streams/eos/offset_sequencer.py)."""
        self.sequencer = OffsetSequencer(probe, committed)

    async def run(self, event: EventT[Any], work: Callable[[], Awaitable[None]]) -> None:
        """Process one message as a unit: all of `work`, then the ack, with no commit in between."""
        await self.run_batch([event], lambda _admitted: work())

    async def run_batch(
        self, events: Sequence[EventT[Any]], work: Callable[[list[EventT[Any]]], Awaitable[None]]
    ) -> None:
        """Process a batch of delivered messages as one unit: `work` gets those the sequencer admits, in
        offset order per partition; their effects and their acks land in one transaction per partition,
        with no commit in between. A failure anywhere in `work` fails the whole unit."""
        # Shielded: a worker that is stopping cancels its agents, but a unit cut in half would leave
        # half its effects in the transaction the final commit is about to commit.
        await asyncio.shield(asyncio.ensure_future(self._unit(events, work)))

    async def _unit(self, events: Sequence[EventT[Any]], work: Callable[[list[EventT[Any]]], Awaitable[None]]) -> None:
        async with self.lock:
            if self.taint is not None:
                raise TaintedError("an earlier unit failed half-way; this worker must restart") from self.taint
            if self.transactions_open is False:
                # Delivered before a revocation ended the transactions: there is nothing to process them
                # into. Not acked, so they come round again after the rebalance, from the committed offset.
                log.info("not processing %d message(s) while no transaction is open (a rebalance)", len(events))
                return
            admitted = await self._admit(events)
            if not admitted:
                return
            first = admitted[0].message
            where = f"{first.topic}[{first.partition}]@{first.offset} (+{len(admitted) - 1} more)"
            if self.trace:
                log.info("EOS unit %s", where)
            began = self.unit_began = time.monotonic()
            try:
                await work(admitted)
                await self.sender.send()
            except BaseException as exc:
                self.taint = exc
                self.sender.discard()
                self.fail(f"processing failed half-way through {where}, nothing more is committed: {exc!r}")
                raise
            finally:
                self.unit_began = None
            self.units += len(admitted)
            self.observer.unit_done([event.message for event in admitted], time.monotonic() - began)
            # Acked inside the gate: the next commit includes these offsets together with their effects.
            for event in admitted:
                self._ack(event)

    async def _admit(self, events: Sequence[EventT[Any]]) -> list[EventT[Any]]:
        """The messages to process, in order; duplicates are acked and dropped, and a partition whose
        next offset is missing is sought back and skipped for the rest of the batch."""
        admitted: list[EventT[Any]] = []
        blocked: set[TP] = set()
        for event in events:
            message = event.message
            tp = message.tp
            if tp in blocked:
                continue  # not acked: delivered again after the seek
            admission = await self.sequencer.admit(tp, message.offset)
            if admission.verdict is Verdict.DUPLICATE:
                log.info("dropped a second delivery of %s[%d]@%d", message.topic, message.partition, message.offset)
                self.units += 1
                self._ack(event)
            elif admission.verdict in {Verdict.LOST, Verdict.WAIT}:
                assert admission.seek_to is not None
                if admission.verdict is Verdict.LOST:
                    log.warning(
                        "%s[%d]@%d arrived but offset %d never did: seeking back to it",
                        message.topic,
                        message.partition,
                        message.offset,
                        admission.seek_to,
                    )
                await self.app.consumer.seek(tp, admission.seek_to)
                blocked.add(tp)
            else:
                # Counted as processed now, so the next message of the partition is admitted in this
                # batch; if the unit fails, the gate is tainted and nothing is ever committed again.
                self.sequencer.processed(tp, message.offset)
                admitted.append(event)
        return admitted

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
            began = time.monotonic()
            await self.drain()
            done = await commit()
            if done:
                self.observer.committed(time.monotonic() - began)
            if self.trace:
                log.info("EOS commit done=%s committed=%s", done, faust_private.committed_offsets(self.app.consumer))
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

    async def drain(self) -> None:
        """Wait until every send of the units so far has reached its transaction and been acknowledged."""
        buffer: Any = self.app.producer.buffer
        if not hasattr(buffer, "drain"):
            raise TypeError(f"exactly-once needs the arena-kafka:// producer (got {type(buffer).__name__})")
        drainable: Drainable = buffer
        await drainable.drain()
        await self.sender.delivered()

    def _producer_for(self, partition: int) -> Any:  # noqa: ANN401 - aiokafka's producer
        """The transactional producer of `partition` (streams/eos/transport.py knows the transactional ids)."""
        transactions: Any = self.app.consumer.transactions
        return transactions.producer_for_partition(partition)
