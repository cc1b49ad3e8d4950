"""Per-partition sequencing for the processing gate: each offset is processed once, in order, none skipped.

Faust's delivery into an agent is leaky around rebalances, in ways the crash test caught one by one:
it re-delivers the message it delivered last, it processes messages fetched before it seeks back to the
committed offsets (and so delivers them twice), and when it resumes flow after recovery it clears the
agents' queues, so a message fetched after the seek can vanish while later ones are processed. Its
own safety net, the acked-offsets-with-gaps reckoning, then either stalls for good below a
transaction marker or commits past the vanished message.

So the gate keeps its own books. For each partition it knows the next offset to process (from the
group's committed offset when ownership begins, then one past each processed message), and admits a
delivered message only if it is that offset. A delivery below it is a duplicate. A delivery above it
leaves a hole, and a hole is legitimate only when it holds no committed record (transaction markers,
aborted batches): the `probe` asks the broker. A hole that holds a record means a message was lost on
its way to the agent; the gate seeks back to it and waits for it to come round again.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from faust.types import TP

# (partition, start, end) -> the first offset in [start, end] holding a committed record, or None.
Probe = Callable[[TP, int, int], Awaitable[int | None]]
# partition -> where the group resumes it: its committed offset, or the earliest offset if it has none
# (None: unknown, so the first delivery is taken as the start).
CommittedOffset = Callable[[TP], Awaitable[int | None]]


class Verdict(enum.Enum):
    PROCESS = "process"
    DUPLICATE = "duplicate"  # already processed in this ownership: acknowledge, do nothing
    WAIT = "wait"  # a seek back is under way: this delivery comes round again, in order (seek again)
    LOST = "lost"  # an earlier record never reached the agent: seek back to `Admission.seek_to`


@dataclass(frozen=True, slots=True)
class Admission:
    verdict: Verdict
    seek_to: int | None = None


class OffsetSequencer:
    def __init__(self, probe: Probe, committed: CommittedOffset) -> None:
        self._probe = probe
        self._committed = committed
        self._expected: dict[TP, int | None] = {}
        self._seeking: dict[TP, int] = {}

    async def admit(self, tp: TP, offset: int) -> Admission:
        if tp not in self._expected:
            self._expected[tp] = await self._committed(tp)
        expected = self._expected[tp]
        target = self._seeking.get(tp)
        if target is not None and offset == target:
            del self._seeking[tp]
            return Admission(Verdict.PROCESS)
        if expected is not None and offset < expected:
            return Admission(Verdict.DUPLICATE)
        if target is not None:
            # Still on the far side of the hole: either fetched before the seek, or the sought record
            # vanished again. Seeking once more is harmless in the first case and needed in the second.
            return Admission(Verdict.WAIT, seek_to=target)
        if expected is None or offset == expected:
            return Admission(Verdict.PROCESS)
        first = await self._probe(tp, expected, offset)
        if first is None or first >= offset:
            return Admission(Verdict.PROCESS)  # only markers or aborted records in between
        self._seeking[tp] = first
        return Admission(Verdict.LOST, seek_to=first)

    def processed(self, tp: TP, offset: int) -> None:
        self._expected[tp] = offset + 1

    def next_offset(self, tp: TP) -> int | None:
        """The offset a commit may record for `tp`: everything below it has been processed."""
        return self._expected.get(tp)

    def positions(self) -> dict[TP, int]:
        """Every partition's next offset, where known: what a commit at this moment may record."""
        return {tp: offset for tp, offset in self._expected.items() if offset is not None}

    def known(self) -> set[TP]:
        return set(self._expected)

    def forget(self, tps: Iterable[TP]) -> None:
        """Ownership of these partitions begins or ends: start again from the group's committed offset."""
        for tp in tps:
            self._expected.pop(tp, None)
            self._seeking.pop(tp, None)


async def no_probe(_tp: TP, _start: int, _end: int) -> int | None:
    return None


async def no_committed(_tp: TP) -> int | None:
    return None
