"""The one retry policy for broker requests that fail for a moment.

A broker that just started, a partition whose leadership moved, a group coordinator that moved: each
answers "not now" for a moment (NOT_COORDINATOR, LEADER_NOT_AVAILABLE, a transport error, a time-out).
Such a request is asked again, with a growing pause, a bounded number of times; anything else, or
the last failure, is raised to the caller, which turns it into an error a person can read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from confluent_kafka import KafkaError, KafkaException

log = logging.getLogger(__name__)
T = TypeVar("T")

# Answers a broker gives for a moment while it starts, or moves leadership or group coordination.
TRANSIENT = frozenset(
    {
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._TRANSPORT,
        KafkaError._TIMED_OUT,
        KafkaError._UNKNOWN_PARTITION,
    }
)


def is_transient(exc: BaseException) -> bool:
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else None
    return isinstance(error, KafkaError) and (error.retriable() or error.code() in TRANSIENT)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 20
    first_pause_s: float = 0.2
    max_pause_s: float = 2.0

    def call(
        self,
        what: str,
        ask: Callable[[], T],
        *,
        retry_if: Callable[[BaseException], bool] = is_transient,
        before_retry: Callable[[], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> T:
        """`ask()`, again after a transient failure, at most `attempts` times; the last failure is raised.

        `before_retry` runs before each new attempt (a client answering from stale metadata is replaced:
        the broker-restart test saw one answer "Unknown partition" for minutes after the broker was back).
        """
        for attempt in range(self.attempts):
            try:
                return ask()
            except (KafkaException, TimeoutError) as exc:
                if attempt == self.attempts - 1 or not retry_if(exc):
                    raise
                log.warning("%s failed (%s); asking again", what, exc)
                if before_retry is not None:
                    before_retry()
                sleep(min(self.first_pause_s * 2**attempt, self.max_pause_s))
        raise AssertionError("unreachable")


BROKER_REQUESTS = RetryPolicy()
