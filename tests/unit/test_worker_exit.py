"""A worker that cannot go on exits non-zero within a bounded time, and one that is stuck is noticed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Collection

from confluent_kafka import KafkaError, KafkaException
from faust.types import TP

from streams.eos.fatal_exit import ExitCode, FatalExit
from streams.worker.stall_watchdog import StallWatchdog

COMMANDS = TP("arena.commands", 0)


def test_the_first_fatal_reason_wins_and_the_process_ends_after_the_grace_period() -> None:
    exited: list[int] = []
    done = threading.Event()

    def hard_exit(code: int) -> None:
        exited.append(code)
        done.set()

    stops: list[bool] = []
    policy = FatalExit(grace_s=0.2, hard_exit=hard_exit)
    policy.fatal(ExitCode.CRASHED, "the producer buffer crashed", stop=lambda: stops.append(True))
    policy.fatal(ExitCode.STALLED, "a later, second reason", stop=lambda: stops.append(True))
    assert done.wait(5)
    assert exited == [ExitCode.CRASHED]
    assert stops == [True], "a graceful stop is asked for once"
    assert policy.exit_code() == ExitCode.CRASHED


def test_a_clean_stop_that_hangs_ends_with_the_stop_timeout_code() -> None:
    exited: list[int] = []
    done = threading.Event()

    def hard_exit(code: int) -> None:
        exited.append(code)
        done.set()

    policy = FatalExit(grace_s=0.1, hard_exit=hard_exit)
    policy.stopping()
    assert done.wait(5)
    assert exited == [ExitCode.STOP_TIMEOUT]
    assert policy.exit_code() == 0, "a stop asked for by a signal is not a failure in itself"


class FakeGate:
    def __init__(self) -> None:
        self.units = 0
        self.unit_began: float | None = None
        self.assigned: frozenset[TP] = frozenset({COMMANDS, TP("app-arena-headers-changelog", 0)})
        self.failures: list[tuple[str, ExitCode]] = []

    def fail(self, reason: str, code: ExitCode = ExitCode.CRASHED) -> None:
        self.failures.append((reason, code))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watchdog(gate: FakeGate, clock: Clock, waiting: list[TP]) -> tuple[StallWatchdog, list[Collection[TP]]]:
    asked: list[Collection[TP]] = []

    def check(assigned: Collection[TP]) -> list[TP]:
        asked.append(assigned)
        return list(waiting)

    loop = asyncio.new_event_loop()
    dog = StallWatchdog(gate, loop, check, stall_s=60, source_topics=frozenset({"arena.commands"}), clock=clock)
    dog._seen()  # the loop is alive in these tests
    dog._loop_seen = float("inf")
    return dog, asked


def test_no_progress_with_committed_records_waiting_is_a_stall() -> None:
    gate, clock = FakeGate(), Clock()
    dog, asked = watchdog(gate, clock, waiting=[COMMANDS])
    assert dog.check() is None  # first look: progress from "never seen"
    clock.now += 30
    assert dog.check() is None and not asked, "the broker is asked only after the whole stall period"
    clock.now += 31
    reason = dog.check()
    assert reason is not None and "arena.commands[0]" in reason
    assert asked == [[COMMANDS]], "only source partitions are checked, not changelogs"


def test_an_idle_worker_is_not_stalled() -> None:
    gate, clock = FakeGate(), Clock()
    dog, asked = watchdog(gate, clock, waiting=[])
    dog.check()
    clock.now += 61
    assert dog.check() is None
    assert asked, "it did ask"
    clock.now += 30
    assert dog.check() is None, "idleness resets the clock"


def test_progress_resets_the_clock() -> None:
    gate, clock = FakeGate(), Clock()
    dog, asked = watchdog(gate, clock, waiting=[COMMANDS])
    dog.check()
    for _ in range(5):
        clock.now += 50
        gate.units += 1
        assert dog.check() is None
    assert not asked


def test_a_unit_that_never_finishes_is_a_stall_even_without_lag() -> None:
    gate, clock = FakeGate(), Clock()
    dog, _asked = watchdog(gate, clock, waiting=[])
    gate.unit_began = clock.now
    clock.now += 61
    reason = dog.check()
    assert reason is not None and "one message" in reason


def test_a_blocked_event_loop_is_a_stall() -> None:
    gate, clock = FakeGate(), Clock()
    loop = asyncio.new_event_loop()  # never run: the callbacks it is given never happen
    dog = StallWatchdog(gate, loop, lambda _a: [], stall_s=60, source_topics=frozenset({"arena.commands"}), clock=clock)
    assert dog.check() is None
    clock.now += 61
    reason = dog.check()
    assert reason is not None and "event loop" in reason
    loop.close()


def test_the_watchdog_thread_fails_the_gate_with_the_stall_code() -> None:
    gate = FakeGate()
    loop = asyncio.new_event_loop()
    dog = StallWatchdog(
        gate, loop, lambda _a: [COMMANDS], stall_s=0.05, source_topics=frozenset({"arena.commands"}), check_s=0.02
    )
    dog._loop_seen = float("inf")
    dog.start()
    deadline = time.monotonic() + 5
    while not gate.failures and time.monotonic() < deadline:
        time.sleep(0.02)
    dog.stop()
    loop.close()
    assert gate.failures and gate.failures[0][1] is ExitCode.STALLED


def test_a_cluster_that_cannot_answer_is_not_a_stall_and_restarts_the_period() -> None:
    """Two nodes of three down: the worker waits for the cluster. When it returns, the worker gets a whole
    stall period to resume instead of being ended at once for the time it spent waiting."""
    gate, clock = FakeGate(), Clock()
    answers: list[list[TP] | KafkaException] = [KafkaException(KafkaError(KafkaError._TIMED_OUT)), [COMMANDS]]

    def check(_assigned: Collection[TP]) -> list[TP]:
        answer = answers.pop(0)
        if isinstance(answer, KafkaException):
            raise answer
        return answer

    loop = asyncio.new_event_loop()
    dog = StallWatchdog(gate, loop, check, stall_s=60, source_topics=frozenset({"arena.commands"}), clock=clock)
    dog._loop_seen = float("inf")
    dog.check()
    clock.now += 90  # the outage
    assert dog.check() is None, "no answer from the cluster is no evidence of a stall"
    clock.now += 30  # the cluster is back; the worker has not caught up yet
    assert dog.check() is None
    assert len(answers) == 1, "not asked again: the period restarted when the cluster did not answer"
    clock.now += 31
    reason = dog.check()
    assert reason is not None and "arena.commands[0]" in reason, "a real stall afterwards is still caught"
    loop.close()
