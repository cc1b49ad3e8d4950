"""Audit an event history with the pure core: the book's checks, the fold, and the state's invariants.

The audit trusts nothing it reads. Each record is decoded with the digest of its bytes as written, run
through the book (balanced postings, postings equal to the payload, contiguous seq, unbroken hash
chain, no negative account, conservation, conservation-check totals) and folded with `evolve` into
the state an independent reader would rebuild; at the end every arena's state is checked whole.
A verdict is PASS only when all of that found nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from schemas.alerts import ConservationAlert
from schemas.events import Event, EventDecodeError, decode_event_with_digest
from streams.domain import ArenaState, Book, SequenceGap, evolve, state_problems
from streams.topic_reader import TopicRecord


@dataclass(slots=True)
class AuditResult:
    events: list[Event] = field(default_factory=list)
    states: dict[str, ArenaState] = field(default_factory=dict)
    book: Book = field(default_factory=Book)
    alerts: list[ConservationAlert] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checks: Counter[str] = field(default_factory=Counter)
    last_offsets: dict[int, int] = field(default_factory=dict)
    event_count: int = 0  # counted even when the events themselves are not kept

    @property
    def passed(self) -> bool:
        return not self.alerts and not self.problems

    def verdict(self) -> str:
        if self.passed:
            return f"PASS: {self.event_count} events, {len(self.states)} arenas, every check held"
        return f"FAIL: {len(self.alerts)} alert(s), {len(self.problems)} problem(s)"


def audit_records(
    records: Iterable[TopicRecord],
    *,
    keep_events: bool = True,
    on_event: Callable[[Event], None] | None = None,
) -> AuditResult:
    result = AuditResult()
    for record in records:
        result.last_offsets[record.partition] = record.offset
        where = f"partition {record.partition} offset {record.offset}"
        if record.value is None:
            result.problems.append(f"{where}: a record without a value")
            continue
        try:
            event, digest = decode_event_with_digest(record.value)
        except EventDecodeError as exc:
            result.problems.append(f"{where}: not a readable event ({exc})")
            continue
        if record.key is not None and record.key != event.arena_id.encode():
            result.problems.append(f"{where}: key {record.key!r} differs from arena_id {event.arena_id!r}")
        result.event_count += 1
        alerts = result.book.apply(event, digest)
        result.alerts.extend(alerts)
        for alert in alerts:
            result.checks[alert.check.value] += 1
        state = result.states.get(event.arena_id) or ArenaState.empty(event.arena_id)
        try:
            result.states[event.arena_id] = evolve(state, event)
        except SequenceGap as exc:
            result.problems.append(f"{where}: {exc}")
        if keep_events:
            result.events.append(event)
        if on_event is not None:
            on_event(event)
    for arena_id, state in sorted(result.states.items()):
        result.problems.extend(f"arena {arena_id}: {problem}" for problem in state_problems(state))
        arena_book = result.book.arena(arena_id)
        if arena_book.treasury != state.treasury:
            result.problems.append(
                f"arena {arena_id}: the book's treasury {arena_book.treasury} differs from the state's {state.treasury}"
            )
    return result
