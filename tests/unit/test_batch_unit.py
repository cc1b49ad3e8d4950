"""A batch is one unit of the processing gate: its events, rows and offsets commit together or not at all.

The gate and the batch sender run here against a stand-in for one partition's transactional producer that
keeps what a transaction holds apart from what it committed, and a commit that records the offsets the
gate's sequencer gives. No broker: what is pinned is the gate's own rule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from faust.types import TP

from streams.eos.fatal_exit import ExitCode, FatalExit
from streams.eos.gate import ProcessingGate, TaintedError

COMMANDS = "arena.commands"


@dataclass
class Transaction:
    """One partition's transaction: records sent since the last commit, and everything committed."""

    open: list[tuple[str, bytes | None]] = field(default_factory=list)
    committed: list[tuple[str, bytes | None]] = field(default_factory=list)
    offsets: dict[TP, int] = field(default_factory=dict)


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes | None]] = []

    def append(self, *, timestamp: Any, key: bytes | None, value: bytes | None) -> object:
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        pass


class FakeProducer:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[None]:
        self.transaction.open.extend((topic, value) for _key, value in batch.records)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@dataclass
class FakeMessage:
    offset: int
    partition: int = 0
    topic: str = COMMANDS
    key: bytes = b"a1"
    value: bytes = b"{}"
    acked: bool = False

    @property
    def tp(self) -> TP:
        return TP(self.topic, self.partition)


@dataclass
class FakeEvent:
    message: FakeMessage

    def ack(self) -> None:
        self.message.acked = True


class FakeBuffer:
    async def drain(self) -> None:
        return None


class FakeTransactions:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    def producer_for_partition(self, _partition: int) -> FakeProducer:
        return FakeProducer(self.transaction)


class FakeApp:
    def __init__(self, transaction: Transaction) -> None:
        self.loop = asyncio.get_running_loop()
        self.producer = type("P", (), {})()
        self.producer.buffer = FakeBuffer()
        self.consumer = type("C", (), {})()
        self.consumer.transactions = FakeTransactions(transaction)
        self.crashed: list[BaseException] = []

    async def crash(self, reason: BaseException) -> None:
        self.crashed.append(reason)


async def _run(gate: ProcessingGate, events: list[Any], work: Callable[[list[Any]], Awaitable[None]]) -> None:
    await gate.run_batch(events, work)


def _gate(app: FakeApp, exits: list[int]) -> ProcessingGate:
    gate = ProcessingGate(app)  # type: ignore[arg-type]
    gate.exit = FatalExit(grace_s=60, hard_exit=exits.append)
    gate.transactions_open = True
    return gate


async def _commit(gate: ProcessingGate, transaction: Transaction) -> bool:
    async def commit() -> bool:
        transaction.committed.extend(transaction.open)
        transaction.open.clear()
        transaction.offsets.update(gate.sequencer.positions())
        return True

    return await gate.commit(commit)


def test_a_batch_s_events_rows_and_offsets_commit_together() -> None:
    async def scenario() -> Transaction:
        transaction = Transaction()
        gate = _gate(FakeApp(transaction), [])
        events = [FakeEvent(FakeMessage(offset)) for offset in range(3)]

        async def work(admitted: list[Any]) -> None:
            for event in admitted:
                gate.sender.add("arena.events", 0, b"a1", b"event@%d" % event.message.offset)
            gate.sender.add("app-arena-headers-changelog", 0, b'"a1"', b"{}")  # the batch's one row

        await _run(gate, events, work)
        assert all(event.message.acked for event in events)
        assert await _commit(gate, transaction)
        return transaction

    transaction = asyncio.run(scenario())
    assert transaction.committed == [
        ("arena.events", b"event@0"),
        ("arena.events", b"event@1"),
        ("arena.events", b"event@2"),
        ("app-arena-headers-changelog", b"{}"),
    ]
    assert transaction.offsets == {TP(COMMANDS, 0): 3}, "the offsets of exactly the processed messages"


def test_a_batch_that_fails_half_way_commits_nothing_and_ends_the_worker() -> None:
    exits: list[int] = []

    async def scenario() -> tuple[Transaction, FakeApp, list[FakeEvent]]:
        transaction = Transaction()
        app = FakeApp(transaction)
        gate = _gate(app, exits)
        events = [FakeEvent(FakeMessage(offset)) for offset in range(3)]

        async def work(admitted: list[Any]) -> None:
            gate.sender.add("arena.events", 0, b"a1", b"event@0")
            raise RuntimeError("a bug in the middle of the batch")

        with pytest.raises(RuntimeError, match="a bug"):
            await _run(gate, events, work)
        assert not await _commit(gate, transaction), "a tainted gate refuses every commit"
        with pytest.raises(TaintedError):
            await _run(gate, [FakeEvent(FakeMessage(3))], work)
        await asyncio.sleep(0.01)  # the scheduled crash runs
        return transaction, app, events

    transaction, app, events = asyncio.run(scenario())
    assert transaction.open == [] and transaction.committed == [], "the half-done batch never reached Kafka"
    assert transaction.offsets == {}, "and no offset was committed"
    assert not any(event.message.acked for event in events)
    assert app.crashed, "the worker is asked to stop"
    assert exits == [] or exits == [ExitCode.CRASHED]


def test_a_second_delivery_inside_a_batch_is_acked_and_not_processed_again() -> None:
    async def scenario() -> tuple[Transaction, list[int]]:
        transaction = Transaction()
        gate = _gate(FakeApp(transaction), [])
        seen: list[int] = []

        async def work(admitted: list[Any]) -> None:
            seen.extend(event.message.offset for event in admitted)

        await _run(gate, [FakeEvent(FakeMessage(0)), FakeEvent(FakeMessage(1))], work)
        again = [FakeEvent(FakeMessage(1)), FakeEvent(FakeMessage(2))]
        await _run(gate, again, work)
        assert all(event.message.acked for event in again)
        await _commit(gate, transaction)
        return transaction, seen

    transaction, seen = asyncio.run(scenario())
    assert seen == [0, 1, 2]
    assert transaction.offsets == {TP(COMMANDS, 0): 3}
