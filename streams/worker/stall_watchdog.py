"""A worker with committed work waiting and no progress for too long ends itself, so it can be restarted.

Issue 12's probe saw a worker hang for six minutes with a healthy broker and nothing logged. Whatever
the cause, the cure is the same: exit non-zero and let the supervisor start a fresh process, which
recovers from what is committed. This watchdog runs on its own thread (the event loop may be what is
stuck) and looks at three things:

- **progress**: the processing gate counts finished units; any change is progress;
- **the event loop**: each check schedules a no-op on the loop; one that has not run for the stall
  period means the loop is blocked;
- **work waiting**: only when nothing moved for the stall period does it ask the broker whether an
  assigned partition holds a committed record past the group's committed offset (a read_committed
  read from there, so transaction markers and aborted records, which leave offsets with nothing to
  process, are not mistaken for lag). An idle worker is not stalled, nor is one whose cluster cannot
  answer (it waits for the cluster; the stall period starts again).

A unit that has been running for the whole stall period (a send that never completes, say) is a stall
too, whatever the broker holds.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Collection
from typing import Protocol

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from faust.types import TP

from streams.eos.fatal_exit import ExitCode
from streams.kafka.clients import new_consumer
from streams.kafka.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_STALL_S = 60.0

# (assigned partitions) -> the partitions among them that hold committed records not yet processed.
WaitingCheck = Callable[[Collection[TP]], list[TP]]


class Watched(Protocol):
    """What the watchdog reads of the processing gate (streams/eos/transport.py)."""

    units: int
    unit_began: float | None
    assigned: frozenset[TP]

    def fail(self, reason: str, code: ExitCode = ...) -> None: ...


class StallWatchdog:
    def __init__(
        self,
        gate: Watched,
        loop: asyncio.AbstractEventLoop,
        waiting: WaitingCheck,
        *,
        stall_s: float = DEFAULT_STALL_S,
        source_topics: frozenset[str],
        check_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gate = gate
        self._loop = loop
        self._waiting = waiting
        self.stall_s = stall_s
        self._sources = source_topics
        self._check_s = check_s if check_s is not None else max(0.5, min(5.0, stall_s / 6))
        self._clock = clock
        self._stopped = threading.Event()
        self._last_units = -1
        self._last_progress = clock()
        self._loop_seen = clock()
        self._thread = threading.Thread(target=self._run, name="stall-watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.wait(self._check_s):
            try:
                reason = self.check()
            except Exception as exc:  # noqa: BLE001 - a watchdog that dies watches nothing; say so and go on
                log.warning("stall watchdog: check failed (%r); trying again", exc)
                continue
            if reason is not None:
                self._gate.fail(reason, ExitCode.STALLED)
                return

    def _seen(self) -> None:
        self._loop_seen = self._clock()

    def check(self) -> str | None:
        """One look; the reason to end the worker, or None."""
        now = self._clock()
        try:
            self._loop.call_soon_threadsafe(self._seen)
        except RuntimeError:  # the loop is closed: the process is ending anyway
            return None
        if now - self._loop_seen > self.stall_s:
            return f"the event loop has not run for {now - self._loop_seen:.0f}s"
        began = self._gate.unit_began
        if began is not None and now - began > self.stall_s:
            return f"one message has been processing for {now - began:.0f}s"
        units = self._gate.units
        if units != self._last_units:
            self._last_units = units
            self._last_progress = now
            return None
        if now - self._last_progress <= self.stall_s:
            return None
        assigned = [tp for tp in self._gate.assigned if tp.topic in self._sources]
        if not assigned:
            self._last_progress = now
            return None
        try:
            stuck = self._waiting(assigned)
        except KafkaException as exc:
            # The cluster cannot say whether work waits (two nodes of three down, say): the worker is
            # waiting for the cluster, not stalled. The stall period starts again, so a worker the cluster
            # comes back to gets a whole period to resume; the failover test's 90 s outage ended in a
            # restart at the very moment the cluster returned, before this.
            log.info("stall watchdog: the cluster does not answer (%s); not judging a stall", exc)
            self._last_progress = now
            return None
        if not stuck:
            self._last_progress = now  # idle: nothing committed is waiting
            return None
        where = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(stuck))
        return f"no progress for {now - self._last_progress:.0f}s with committed records waiting on {where}"


class CommittedRecordsWaiting:
    """The broker's answer to "is there work?": a read_committed read from the group's committed offsets."""

    def __init__(self, settings: Settings, group_id: str, *, timeout_s: float = 10.0) -> None:
        self._settings = settings
        self._group_id = group_id
        self._timeout_s = timeout_s

    def __call__(self, assigned: Collection[TP]) -> list[TP]:
        consumer = new_consumer(
            self._settings,
            "stall-watchdog",
            group_id=self._group_id,
            overrides={"enable.partition.eof": True, "fetch.wait.max.ms": 50},
        )
        try:
            return [tp for tp in assigned if self._holds_work(consumer, tp)]
        finally:
            consumer.close()

    def _holds_work(self, consumer: Consumer, tp: TP) -> bool:
        partition = TopicPartition(tp.topic, tp.partition)
        (committed,) = consumer.committed([partition], timeout=self._timeout_s)
        start = committed.offset
        if start < 0:
            start, _high = consumer.get_watermark_offsets(partition, timeout=self._timeout_s)
        consumer.assign([TopicPartition(tp.topic, tp.partition, start)])
        deadline = time.monotonic() + self._timeout_s
        try:
            while time.monotonic() < deadline:
                message = consumer.poll(0.5)
                if message is None:
                    continue
                error = message.error()
                if error is None:
                    return True
                if error.code() == KafkaError._PARTITION_EOF:  # nothing committed past the offset
                    return False
                raise KafkaException(error)
        finally:
            consumer.unassign()
        return False  # the broker did not answer in time: not evidence of a stall
