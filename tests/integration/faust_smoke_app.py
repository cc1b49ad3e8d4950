"""A minimal Faust app for the smoke test: one agent, one table, exactly-once, topics from the env.

It is started as a real worker process (`faust -A tests.integration.faust_smoke_app worker`), the way
the pipeline's own worker runs, so the test exercises Faust's transactional producer for real.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import faust

from streams.eos.install import install

app = faust.App(
    os.environ["SMOKE_APP_ID"],
    broker=f"{os.environ.get('SMOKE_SCHEME', 'arena-kafka')}://{os.environ['SMOKE_BOOTSTRAP']}",
    processing_guarantee="exactly_once",
    store="memory://",
    datadir=os.environ["SMOKE_DATADIR"],
    web_enabled=False,
    topic_partitions=int(os.environ.get("SMOKE_PARTITIONS", "2")),
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
)
source = app.topic(os.environ["SMOKE_IN"], key_serializer="raw", value_serializer="raw")
sink = app.topic(os.environ["SMOKE_OUT"], key_serializer="raw", value_serializer="raw")
seen = app.Table("seen", default=int)


async def _no_changelog_reads(_partitions: list[tuple[str, int]]) -> dict[tuple[str, int], dict[Any, Any]]:
    raise AssertionError("the smoke app keeps Faust's own table recovery")


eos = install(app, read_changelogs=_no_changelog_reads, partition_of=lambda _key: 0, source_topics=frozenset())


async def handle(event: Any) -> None:
    key, value = event.key, event.value
    seen[key] += 1
    # Co-partitioned output: the same partition number as the input, as the pipeline does.
    await sink.send(key=key, value=b"%s|%d" % (value.upper(), seen[key]), partition=event.message.partition)


@app.agent(source)
async def upper(stream: Any) -> AsyncIterator[None]:
    # Under the arena-kafka transport each message is a unit of its processing gate (streams/eos/transport.py);
    # with the stock transport the gate is not consulted, so the same app runs on both.
    gate = eos.gate
    async for event in stream.events():
        await gate.run(event, lambda: handle(event))  # noqa: B023 - awaited before the next event
        yield None
