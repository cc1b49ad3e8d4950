"""A table as its changelog says it is: the last committed value of each key, deletions applied.

Two readers need exactly this. Worker recovery loads the partitions it restarts from it
(streams/eos/recovery.py), and the audit compares a replay of the event topic with the worker's live
tables without asking the worker (streams/history/live_state.py). Changelogs are written in the same
transactions as the events, so a read_committed read sees the tables at a committed point.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from streams.kafka.settings import Settings
from streams.kafka.topic_reader import TopicRecord, read_partitions, read_snapshot
from streams.store.table_names import changelog_topic


def read_table(settings: Settings, app_id: str, table: str) -> dict[str, Any]:
    """The whole table's committed content."""
    rows: dict[str, Any] = {}
    for record in read_snapshot(settings, changelog_topic(app_id, table)):
        _fold(rows, record)
    return rows


def committed_rows_by_partition(
    settings: Settings, partitions: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], dict[str, Any]]:
    """The committed rows of each (changelog topic, partition), read together by one consumer."""
    found: dict[tuple[str, int], dict[str, Any]] = {tp: {} for tp in partitions}
    for topic, record in read_partitions(settings, found):
        _fold(found[topic, record.partition], record)
    return found


def _fold(rows: dict[str, Any], record: TopicRecord) -> None:
    if record.key is None:
        return
    key = orjson.loads(record.key)
    if record.value is None:
        rows.pop(key, None)
    else:
        rows[key] = orjson.loads(record.value)
