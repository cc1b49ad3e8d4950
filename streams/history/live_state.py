"""The worker's live state, read back from its table changelog topics, and compared with a replay.

The changelogs are written in the same transactions as the events, so a read_committed reader sees
the tables exactly as they were at some committed point — no running worker needed, and no way for
a worker to answer from a cache that diverged from what it committed. Comparison is per arena and
keyed on `last_seq`: an arena whose live seq differs from the replayed one is reported as "at a
different point" (the pipeline moved on between the two reads), not as a difference in money.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from streams.domain import ArenaState, to_rows
from streams.kafka.changelog_reader import read_table
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import TopicReadError
from streams.store.arena_store import ArenaStore
from streams.store.table_names import ARENA_TABLES


def live_states(settings: Settings, app_id: str) -> dict[str, ArenaState]:
    try:
        headers, agents, windows = (read_table(settings, app_id, table) for table in ARENA_TABLES)
    except TopicReadError as exc:
        raise TopicReadError(f"cannot read the live state of worker app {app_id!r}: {exc}") from None
    return ArenaStore(headers, agents, windows).arenas()


@dataclass(frozen=True, slots=True)
class StateDifference:
    arena_id: str
    what: str


def compare(rebuilt: dict[str, ArenaState], live: dict[str, ArenaState]) -> list[StateDifference]:
    """Differences between the replayed and the live arenas on record (``ArenaState.on_record``): an
    arena that was never created but has rejections is compared like any other, seq, hash and all."""
    found: list[StateDifference] = []
    replayed = {arena: state for arena, state in rebuilt.items() if state.on_record}
    held = {arena: state for arena, state in live.items() if state.on_record}
    for arena in sorted(set(replayed) | set(held)):
        a, b = replayed.get(arena), held.get(arena)
        if a is None:
            found.append(StateDifference(arena, "in the live tables but not in the event topic"))
            continue
        if b is None:
            found.append(StateDifference(arena, "in the event topic but not in the live tables"))
            continue
        if a.last_seq != b.last_seq:
            found.append(
                StateDifference(arena, f"at a different point: replay seq {a.last_seq}, live seq {b.last_seq}")
            )
            continue
        if a != b:
            found.extend(StateDifference(arena, line) for line in _row_differences(a, b))
    return found


def _row_differences(a: ArenaState, b: ArenaState) -> Iterable[str]:
    ra, rb = to_rows(a), to_rows(b)
    for key in sorted(set(ra.header) | set(rb.header)):
        if ra.header.get(key) != rb.header.get(key):
            yield f"header {key}: replay {ra.header.get(key)!r}, live {rb.header.get(key)!r}"
    for agent in sorted(set(ra.agents) | set(rb.agents)):
        if ra.agents.get(agent) != rb.agents.get(agent):
            yield f"agent {agent}: replay {ra.agents.get(agent)!r}, live {rb.agents.get(agent)!r}"
    if ra.command_ids != rb.command_ids or ra.fill_refs != rb.fill_refs:
        yield "idempotency windows differ"
