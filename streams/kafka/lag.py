"""How far behind the worker is, and waiting until it has caught up.

"Every command processed" means the worker's consumer group has committed, on every partition of the
command topic, the offset just past the last command: under exactly-once that commit is part of the
same transaction as the command's events, so lag 0 also means every event is committed and readable.
The command topic is written without transactions, so its end offset counts only commands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from streams.kafka.settings import Settings
from streams.kafka.topic_reader import committed_offsets, end_offsets


@dataclass(frozen=True, slots=True)
class Lag:
    per_partition: Mapping[int, int]

    @property
    def total(self) -> int:
        return sum(self.per_partition.values())


class LagTimeout(RuntimeError):
    """The worker did not catch up in time (it may be down: see its log)."""


def lag_of(settings: Settings, group_id: str, topic: str) -> Lag:
    ends = end_offsets(settings, topic)
    committed = committed_offsets(settings, group_id, topic)
    return Lag({p: end - max(committed.get(p, -1), 0) for p, end in ends.items()})


def wait_until_caught_up(
    settings: Settings,
    group_id: str,
    topic: str,
    *,
    targets: Mapping[int, int] | None = None,
    timeout_s: float = 600.0,
    poll_s: float = 0.5,
    progress: Callable[[Lag], None] | None = None,
    alive: Callable[[], bool] = lambda: True,
    stall_s: float | None = None,
) -> float:
    """Block until the group's committed offsets reach `targets` (default: the topic's end offsets).

    Returns the seconds waited. `alive` lets the caller stop early when the worker process died (or
    restart it: it is asked on every round), with a clear error instead of a silent wait until the
    timeout; `stall_s` ends the wait when the committed offsets have not moved for that long.
    """
    began = time.monotonic()
    moved_at, last_committed = began, None
    while True:
        goal = dict(targets) if targets is not None else end_offsets(settings, topic)
        committed = committed_offsets(settings, group_id, topic)
        lag = Lag({p: max(0, end - max(committed.get(p, -1), 0)) for p, end in goal.items()})
        if progress is not None:
            progress(lag)
        if lag.total == 0:
            return time.monotonic() - began
        now = time.monotonic()
        if committed != last_committed:
            moved_at, last_committed = now, committed
        if not alive():
            raise LagTimeout(f"the worker stopped with {lag.total:,} record(s) of {topic} unprocessed")
        if stall_s is not None and now - moved_at > stall_s:
            raise LagTimeout(
                f"the worker made no progress for {now - moved_at:.0f}s with {lag.total:,} record(s) of {topic} "
                "unprocessed"
            )
        if now - began > timeout_s:
            raise LagTimeout(f"{lag.total:,} record(s) of {topic} still unprocessed after {timeout_s:.0f}s")
        time.sleep(poll_s)
