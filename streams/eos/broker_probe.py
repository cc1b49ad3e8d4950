"""The sequencer's questions to the broker, asked by a plain read_committed consumer off the event loop.

Kept apart from Faust's own consumer on purpose: it never joins the group and never moves the
worker's positions. Both questions are rare (a hole after a transaction marker, the start of an
ownership), so one lazily created consumer, used from one thread at a time, is enough.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from confluent_kafka import Consumer, KafkaException, TopicPartition
from faust.types import TP

from streams.kafka.clients import new_consumer
from streams.kafka.retry import BROKER_REQUESTS, RetryPolicy
from streams.kafka.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")


class BrokerProbe:
    def __init__(
        self, settings: Settings, group_id: str, *, timeout_s: float = 30.0, retry: RetryPolicy = BROKER_REQUESTS
    ) -> None:
        self._settings = settings
        self._group_id = group_id
        self._timeout_s = timeout_s
        self._retry = retry
        self._consumer: Consumer | None = None
        self._lock = threading.Lock()

    async def first_record(self, tp: TP, start: int, end: int) -> int | None:
        what = f"broker probe: first record of {tp.topic}[{tp.partition}]"
        return await asyncio.to_thread(self._retrying, what, lambda: self._first_record(tp, start, end))

    async def committed(self, tp: TP) -> int | None:
        """Where the group resumes `tp`: its committed offset, or the earliest record if it has none."""
        what = f"broker probe: resume offset of {tp.topic}[{tp.partition}]"
        return await asyncio.to_thread(self._retrying, what, lambda: self._committed(tp))

    def _retrying(self, what: str, ask: Callable[[], T]) -> T:
        """Ask again with a new client after any Kafka error, bounded.

        Seen in the broker-restart test: a client that asked while the broker was going down kept
        answering "Unknown partition" from its cached metadata for minutes after the broker was back
        (librdkafka refreshes it every 5 minutes), so the worker processed nothing meanwhile.
        """
        return self._retry.call(
            what, ask, retry_if=lambda exc: isinstance(exc, KafkaException), before_retry=self.close
        )

    def close(self) -> None:
        with self._lock:
            if self._consumer is not None:
                self._consumer.close()
                self._consumer = None

    def _client(self) -> Consumer:
        if self._consumer is None:
            # The record at the end of a hole is known to be there: the broker need not sit on the fetch
            # waiting for more bytes.
            self._consumer = new_consumer(
                self._settings, "broker-probe", group_id=self._group_id, overrides={"fetch.wait.max.ms": 10}
            )
        return self._consumer

    def _first_record(self, tp: TP, start: int, end: int) -> int | None:
        # The record at `end` is committed (a read_committed consumer delivered it), so this ends.
        with self._lock:
            consumer = self._client()
            consumer.assign([TopicPartition(tp.topic, tp.partition, start)])
            deadline = time.monotonic() + self._timeout_s
            try:
                while time.monotonic() < deadline:
                    message = consumer.poll(0.5)
                    if message is None:
                        continue
                    error = message.error()
                    if error is not None:
                        raise KafkaException(error)
                    offset = message.offset()
                    assert offset is not None
                    return offset if offset <= end else None
            finally:
                consumer.unassign()
        raise TimeoutError(
            f"no record of {tp.topic}[{tp.partition}] between {start} and {end} within {self._timeout_s}s"
        )

    def _committed(self, tp: TP) -> int | None:
        with self._lock:
            consumer = self._client()
            (found,) = consumer.committed([TopicPartition(tp.topic, tp.partition)], timeout=self._timeout_s)
            if found.error is not None:
                raise KafkaException(found.error)
            if found.offset >= 0:
                return int(found.offset)
            # No committed offset: the worker starts at the earliest record (auto.offset.reset=earliest).
            low, _high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=self._timeout_s)
            return int(low)
