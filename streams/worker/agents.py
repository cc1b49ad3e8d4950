"""The worker's two agents: thin loops that hand batches of messages to a processor and send what comes back.

Each agent decodes nothing and decides nothing itself. It takes the messages Faust has delivered (up to
`ARENA_BATCH_MAX`, waiting at most `ARENA_BATCH_WITHIN_S`), and runs them as one unit of the processing
gate (streams/eos/gate.py): the processor handles them in order (streams/processors/), every table row
the batch changed is taken once from the buffered tables, and the events, dead letters, alerts and
changelog rows go, each to the partition number of the message that caused it (the pipeline's topics
are co-partitioned), into that partition's open transaction (streams/eos/batch_sender.py). The offsets
commit with them, or nothing does. A crash at any point aborts the transactions: the outputs disappear
from read_committed readers, the tables recover from their committed changelog, and the messages are
consumed again from the committed offsets.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import faust
import orjson
from faust.types import EventT, StreamT

from schemas.fields import SourceRef
from streams.eos.gate import ProcessingGate
from streams.kafka.settings import Settings
from streams.processors.command_processor import CommandProcessor
from streams.processors.ledger_processor import LedgerProcessor, encode_alerts
from streams.store.buffered_table import BufferedTable

log = logging.getLogger(__name__)

# A table row's key -> the partition its row lives in.
PartitionOf = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Changelog:
    """A buffered table and the changelog topic its changed rows are sent to."""

    table: BufferedTable
    topic: str


def _source(message: Any) -> SourceRef:  # noqa: ANN401 - Faust's Message
    return SourceRef.model_construct(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )


def _raw_topic(app: faust.App, name: str, partitions: int) -> Any:  # noqa: ANN401 - Faust's TopicT
    return app.topic(name, partitions=partitions, key_serializer="raw", value_serializer="raw")


def _batches(stream: StreamT[bytes], max_: int, within_s: float) -> AsyncIterator[Sequence[EventT[Any]]]:
    """Faust's batching of a stream's events (typed: `take_events` is missing from Faust's StreamT)."""
    batches: AsyncIterator[Sequence[EventT[Any]]] = stream.take_events(max_, within=within_s)  # type: ignore[attr-defined]
    return batches


def _send_changed_rows(gate: ProcessingGate, changelogs: Sequence[Changelog], partition_of: PartitionOf) -> None:
    """Every row the unit changed, once, with its final value (None: a tombstone), as JSON like Faust's."""
    add = gate.sender.add
    for changelog in changelogs:
        for key, row in changelog.table.take_changes().items():
            add(changelog.topic, partition_of(key), orjson.dumps(key), None if row is None else orjson.dumps(row))


def add_command_agent(
    app: faust.App,
    settings: Settings,
    gate: ProcessingGate,
    commands: CommandProcessor,
    *,
    changelogs: Sequence[Changelog],
    partition_of: PartitionOf,
) -> None:
    topics, worker = settings.topics, settings.worker
    commands_in = app.topic(
        topics.commands, partitions=settings.partitions, key_serializer="raw", value_serializer="raw"
    )

    async def process(batch: list[EventT[Any]]) -> None:
        messages = [event.message for event in batch]
        handled = commands.handle_batch([(m.key, m.value, _source(m)) for m in messages])
        add = gate.sender.add
        for message, outcome in zip(messages, handled, strict=True):
            for value in outcome.events:
                add(topics.events, message.partition, message.key, value)
            if outcome.dead_letter is not None:
                log.warning("dead-lettered %s[%d]@%d", message.topic, message.partition, message.offset)
                add(topics.dlq, message.partition, message.key, outcome.dead_letter)
        _send_changed_rows(gate, changelogs, partition_of)

    @app.agent(commands_in, name="command-processor")
    async def process_commands(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for batch in _batches(stream, worker.batch_max, worker.batch_within_s):
            await gate.run_batch(batch, process)
            yield None


def add_ledger_agent(
    app: faust.App,
    settings: Settings,
    gate: ProcessingGate,
    ledger: LedgerProcessor,
    *,
    changelogs: Sequence[Changelog],
    partition_of: PartitionOf,
) -> None:
    topics, worker = settings.topics, settings.worker
    events_in = _raw_topic(app, topics.events, settings.partitions)

    async def process(batch: list[EventT[Any]]) -> None:
        messages = [event.message for event in batch]
        found = ledger.handle_batch([(m.key, m.value, _source(m)) for m in messages])
        add = gate.sender.add
        for message, alerts in zip(messages, found, strict=True):
            for alert, value in zip(alerts, encode_alerts(alerts), strict=True):
                log.error("ALERT %s %s seq=%s: %s", alert.check.value, alert.arena_id, alert.seq, alert.message)
                add(topics.alerts, message.partition, alert.arena_id.encode(), value)
        _send_changed_rows(gate, changelogs, partition_of)

    @app.agent(events_in, name="ledger-processor")
    async def check_ledger(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for batch in _batches(stream, worker.batch_max, worker.batch_within_s):
            await gate.run_batch(batch, process)
            yield None
