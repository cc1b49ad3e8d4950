"""`/recent`: the latest alerts and dead letters of the whole pipeline, read from their topics.

The topics are the record (any worker may have raised an alert or dead-lettered a message, and a
restart forgets nothing), so the answer is the same whichever worker is asked. The read runs on a
thread, at most once every few seconds however many dashboards ask; it reads only the last records of
each partition.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiohttp import web

from schemas.alerts import decode_alert
from schemas.queries import Recent, RecentAlert, RecentDeadLetter
from streams.history.tail import snapshot
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import TopicRecord
from streams.processors.dead_letter import decode_dead_letter
from streams.worker.web.errors import unavailable
from streams.worker.web.queries import json_response

log = logging.getLogger(__name__)

PER_PARTITION = 20
SHOWN = 20
FRESH_S = 5.0


class RecentView:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cached: Recent | None = None
        self._read_at = 0.0
        self._lock = asyncio.Lock()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/recent", self.recent)]

    async def recent(self, _request: web.Request) -> web.Response:
        async with self._lock:
            if self._cached is None or time.monotonic() - self._read_at > FRESH_S:
                try:
                    self._cached = await asyncio.to_thread(self.read)
                except Exception as exc:  # noqa: BLE001 - the broker's answer is not ours to crash on
                    log.warning("recent alerts and dead letters: %r", exc)
                    raise unavailable("the alert and dead-letter topics could not be read; retry") from None
                self._read_at = time.monotonic()
            return json_response(self._cached)

    def read(self) -> Recent:
        topics = self._settings.topics
        alerts = [
            a for r in snapshot(self._settings, topics.alerts, last=PER_PARTITION) if (a := _alert(topics.alerts, r))
        ]
        letters = [d for r in snapshot(self._settings, topics.dlq, last=PER_PARTITION) if (d := _letter(topics.dlq, r))]
        return Recent(
            alerts=sorted(alerts, key=lambda a: a.timestamp_ms, reverse=True)[:SHOWN],
            dead_letters=sorted(letters, key=lambda d: d.timestamp_ms, reverse=True)[:SHOWN],
        )


def _alert(topic: str, record: TopicRecord) -> RecentAlert | None:
    try:
        alert = decode_alert(record.value or b"{}")
    except ValueError:  # not an alert (someone else wrote to the topic): `arena alerts` shows it
        return None
    return RecentAlert(
        where=f"{topic}[{record.partition}]@{record.offset}",
        timestamp_ms=record.timestamp_ms,
        check=alert.check.value,
        arena_id=alert.arena_id,
        seq=alert.seq,
        message=alert.message,
    )


def _letter(topic: str, record: TopicRecord) -> RecentDeadLetter | None:
    try:
        letter = decode_dead_letter(record.value or b"{}")
    except ValueError:
        return None
    return RecentDeadLetter(
        where=f"{topic}[{record.partition}]@{record.offset}",
        timestamp_ms=record.timestamp_ms,
        reason=letter.reason,
        message=letter.message,
        source=letter.source.where(),
    )
