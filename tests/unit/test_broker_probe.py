"""The broker probe asks again with a new client after an error (a client's stale metadata after a broker restart)."""

from __future__ import annotations

import asyncio

import pytest
from confluent_kafka import KafkaError, KafkaException
from faust.types import TP

from streams.eos.broker_probe import BrokerProbe
from streams.kafka.retry import RetryPolicy
from streams.kafka.settings import Settings

TP0 = TP("arena.commands", 0)
LOCAL = Settings(bootstrap="127.0.0.1:9")


def test_a_failing_question_is_asked_again_with_a_new_client() -> None:
    probe = BrokerProbe(LOCAL, "app", retry=RetryPolicy(attempts=3, first_pause_s=0.0))
    answers: list[int] = []
    closed: list[bool] = []

    def committed(_tp: TP) -> int:
        answers.append(len(answers))
        if len(answers) < 3:
            raise KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION))
        return 42

    probe._committed = committed  # type: ignore[method-assign,assignment]
    probe.close = lambda: closed.append(True)  # type: ignore[method-assign]
    assert asyncio.run(probe.committed(TP0)) == 42
    assert len(answers) == 3
    assert closed == [True, True]  # a new client after each failure


def test_a_question_that_keeps_failing_ends_in_the_error() -> None:
    probe = BrokerProbe(LOCAL, "app", retry=RetryPolicy(attempts=2, first_pause_s=0.0))

    def first_record(_tp: TP, _start: int, _end: int) -> int:
        raise KafkaException(KafkaError(KafkaError._TRANSPORT))

    probe._first_record = first_record  # type: ignore[method-assign,assignment]
    with pytest.raises(KafkaException):
        asyncio.run(probe.first_record(TP0, 0, 5))
