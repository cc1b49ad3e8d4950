"""The worker's two agents: thin loops that hand each message to a processor and send what comes back.

Each agent decodes nothing and decides nothing itself. It hands the message to its processor
(streams/processors/), sends what comes back to the same partition number it came from (the pipeline's
topics are co-partitioned), and runs all of it as one unit of the processing gate (streams/eos/gate.py),
so the sends, the table writes and the consumed offset land in one transaction. A crash at any point
aborts that transaction: the outputs disappear from read_committed readers, the tables recover from
their committed changelog, and the message is consumed again from the committed offset.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import faust
from faust.types import EventT, StreamT

from schemas.fields import SourceRef
from streams.eos.gate import ProcessingGate
from streams.kafka.settings import Settings
from streams.processors.command_processor import CommandProcessor
from streams.processors.ledger_processor import LedgerProcessor, encode_alerts

log = logging.getLogger(__name__)


def add_agents(
    app: faust.App,
    settings: Settings,
    gate: ProcessingGate,
    commands: CommandProcessor,
    ledger: LedgerProcessor,
) -> None:
    n, topics = settings.partitions, settings.topics

    def raw(name: str) -> faust.TopicT:
        return app.topic(name, partitions=n, key_serializer="raw", value_serializer="raw")

    commands_in, events = raw(topics.commands), raw(topics.events)
    dead_letters, alerts = raw(topics.dlq), raw(topics.alerts)

    async def process_command(event: EventT[bytes]) -> None:
        message = event.message
        source = SourceRef(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
        )
        handled = commands.handle(message.key, message.value, source)
        for value in handled.events:
            await events.send(key=message.key, value=value, partition=message.partition)
        if handled.dead_letter is not None:
            log.warning("dead-lettered %s[%d]@%d", message.topic, message.partition, message.offset)
            await dead_letters.send(key=message.key, value=handled.dead_letter, partition=message.partition)

    async def check_event(event: EventT[bytes]) -> None:
        message = event.message
        found = ledger.handle(
            message.key, message.value, topic=message.topic, partition=message.partition, offset=message.offset
        )
        for alert, value in zip(found, encode_alerts(found), strict=True):
            log.error("ALERT %s %s seq=%s: %s", alert.check.value, alert.arena_id, alert.seq, alert.message)
            await alerts.send(key=alert.arena_id.encode(), value=value, partition=message.partition)

    @app.agent(commands_in, name="command-processor")
    async def process_commands(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            await gate.run(event, lambda: process_command(event))  # noqa: B023 - awaited before the next event
            yield None

    @app.agent(events, name="ledger-processor")
    async def check_ledger(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            await gate.run(event, lambda: check_event(event))  # noqa: B023 - awaited before the next event
            yield None
