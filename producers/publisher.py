"""Publish arena commands to Kafka so that none is lost, doubled by a retry, or reordered within an arena.

- `enable.idempotence` + `acks=all`: the broker drops a retried batch it already has, and keeps the
  order of each partition even with several requests in flight.
- key = arena id with Java's murmur2 partitioner: every client agrees which partition owns an arena.
- Delivery failures are collected from the delivery reports and raised by `flush()` (and so by leaving
  the `with` block) as one `PublishError` listing them; librdkafka has already retried transient
  failures for `delivery.timeout.ms` by then, so what is left is permanent and must not be ignored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from confluent_kafka import KafkaError, Message, Producer

from schemas.commands import Command, encode_command
from streams.kafka.partitioning import PRODUCER_PARTITIONER
from streams.kafka.settings import Settings


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    arena_id: str
    error: str


class PublishError(RuntimeError):
    """Some commands could not be delivered; they are listed so the engine can re-send them."""

    def __init__(self, failures: list[FailedDelivery]) -> None:
        shown = "; ".join(f"{f.arena_id}: {f.error}" for f in failures[:5])
        more = f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"{len(failures)} command(s) were not delivered: {shown}{more}")
        self.failures = failures


@dataclass(slots=True)
class PublishStats:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.delivered / elapsed if elapsed > 0 else 0.0


class CommandPublisher:
    """An idempotent, keyed producer of commands. Use as a context manager: it flushes on exit."""

    def __init__(
        self,
        settings: Settings,
        *,
        topic: str | None = None,
        linger_ms: int = 5,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        self.topic = topic or settings.topics.commands
        self.stats = PublishStats()
        self._failures: list[FailedDelivery] = []
        config = settings.client_config(
            {
                "enable.idempotence": True,
                "acks": "all",
                "partitioner": PRODUCER_PARTITIONER,
                "linger.ms": linger_ms,
                "compression.type": "lz4",
                "delivery.timeout.ms": 120_000,
                **(extra_config or {}),
            }
        )
        self._producer = Producer(config)

    def publish(self, command: Command) -> None:
        """Queue one command; its delivery is confirmed (or its failure raised) by `flush()`."""
        self.publish_raw(command.arena_id, encode_command(command))

    def publish_many(self, commands: Iterable[Command], *, progress: Callable[[int], None] | None = None) -> int:
        count = 0
        for command in commands:
            self.publish(command)
            count += 1
            if progress is not None and count % 1000 == 0:
                progress(count)
        return count

    def publish_raw(self, key: str | bytes | None, value: bytes) -> None:
        """Queue bytes as they are: for engines that already hold encoded commands, and for tests of bad input."""
        key_bytes = key.encode() if isinstance(key, str) else key
        arena = key_bytes.decode(errors="replace") if key_bytes is not None else "<no key>"
        while True:
            try:
                self._producer.produce(self.topic, value=value, key=key_bytes, on_delivery=self._report(arena))
                break
            except BufferError:
                # The local queue is full: serve delivery reports until there is room, never drop.
                self._producer.poll(0.1)
        self.stats.sent += 1
        self._producer.poll(0)

    def flush(self, timeout_s: float = 130.0) -> None:
        """Wait for every queued command's delivery report; raise if any failed or did not arrive."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            self._failures.append(FailedDelivery("<unknown>", f"{remaining} still undelivered after {timeout_s:.0f}s"))
        if self._failures:
            failures, self._failures = self._failures, []
            raise PublishError(failures)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.flush()
        else:
            self._producer.flush(10)  # deliver what we can, but let the original error through

    def _report(self, arena_id: str) -> Callable[[KafkaError | None, Message], None]:
        def on_delivery(error: KafkaError | None, _message: Message) -> None:
            if error is None:
                self.stats.delivered += 1
            else:
                self.stats.failed += 1
                self._failures.append(FailedDelivery(arena_id, error.str()))

        return on_delivery
