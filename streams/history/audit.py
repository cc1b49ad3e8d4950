"""Audit an event history with the pure core: the book's checks, the fold, and the state's invariants.

The audit trusts nothing it reads. Each record is decoded with the digest of its bytes as written, run
through the book (every ``Check``: balanced postings, postings equal to the payload, contiguous seq,
unbroken hash chain, no negative account, conservation, conservation-check totals, ...) and, only if
the book applied it, folded with ``evolve`` into the state an independent reader would rebuild; at
the end every arena's state is checked whole (``AuditCheck``). A record the book refuses makes its
arena compromised (``streams.domain.compromise``): the audit reports where it started and where the
arena stands. A verdict is PASS only when all of that found nothing.

Records an operator has investigated and disowned (``disowned``: partition and offset of records
shown not to be the worker's, see "After an integrity alert" in ``schemas/README.md``) are left out
as if they were not in the topic, and listed.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from schemas.alerts import Check, ConservationAlert
from schemas.events import Event, EventDecodeError, decode_event_with_digest
from schemas.fields import SourceRef
from streams.domain import ArenaState, Book, SequenceGap, book_state_problems, evolve, state_problems
from streams.domain.book import arena_of_key
from streams.domain.compromise import Compromise
from streams.kafka.topic_reader import TopicRecord


@contextlib.contextmanager
def _fold_without_cycle_collection() -> Iterator[None]:
    """The fold allocates millions of small objects and frees them by reference counting; none forms a
    cycle. Python's cycle collector would still scan them over and over (a sixth of a replay's time):
    it is paused for the fold, and what exists before is frozen out of its sight."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


class AuditCheck(StrEnum):
    """What the audit checks beyond the book's per-event checks (``schemas.alerts.Check``)."""

    KEY_IS_ARENA = "KEY_IS_ARENA"
    STATE_INVARIANTS = "STATE_INVARIANTS"
    BOOK_AGREES_WITH_STATE = "BOOK_AGREES_WITH_STATE"


AUDIT_CHECK_TITLES: Final[dict[AuditCheck, str]] = {
    AuditCheck.KEY_IS_ARENA: "record keys are arena ids",
    AuditCheck.STATE_INVARIANTS: "rebuilt state's invariants",
    AuditCheck.BOOK_AGREES_WITH_STATE: "book and state agree",
}


def counted(count: int, noun: str) -> str:
    """``1 event``, ``2 events``, ``1,000 events``: for lines people read."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class Finding:
    check: AuditCheck
    text: str


@dataclass(slots=True)
class AuditResult:
    events: list[Event] = field(default_factory=list)
    states: dict[str, ArenaState] = field(default_factory=dict)
    book: Book = field(default_factory=Book)
    alerts: list[ConservationAlert] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    checks: Counter[Check] = field(default_factory=Counter)
    disowned: list[SourceRef] = field(default_factory=list)
    last_offsets: dict[int, int] = field(default_factory=dict)
    event_count: int = 0  # counted even when the events themselves are not kept

    @property
    def passed(self) -> bool:
        return not self.alerts and not self.findings

    @property
    def problems(self) -> list[str]:
        """Every finding beyond the alerts, as text."""
        return [finding.text for finding in self.findings]

    def failures(self, check: Check | AuditCheck) -> int:
        if isinstance(check, Check):
            return self.checks[check]
        return sum(1 for finding in self.findings if finding.check is check)

    def compromised(self) -> dict[str, Compromise]:
        """The arenas whose records the book refused, with where it started and where they stand."""
        found = {arena: book.compromise for arena, book in self.book.arenas().items()}
        return {arena: compromise for arena, compromise in sorted(found.items()) if compromise is not None}

    def absorb(self, other: AuditResult) -> None:
        """Add the audit of other partitions (each arena lives on one partition, so nothing overlaps)."""
        self.events.extend(other.events)
        self.states.update(other.states)
        self.book.absorb(other.book)
        self.alerts.extend(other.alerts)
        self.findings.extend(other.findings)
        self.checks.update(other.checks)
        self.disowned.extend(other.disowned)
        self.last_offsets.update(other.last_offsets)
        self.event_count += other.event_count

    def verdict(self) -> str:
        if self.passed:
            events, arenas = counted(self.event_count, "event"), counted(len(self.states), "arena")
            return f"PASS: every check held over {events} of {arenas}"
        return f"FAIL: {counted(len(self.alerts), 'alert')}, {counted(len(self.findings), 'other finding')}"


def audit_records(
    records: Iterable[TopicRecord],
    *,
    topic: str = "",
    keep_events: bool = True,
    disowned: frozenset[tuple[int, int]] = frozenset(),
    on_event: Callable[[Event], None] | None = None,
) -> AuditResult:
    result = AuditResult()
    with _fold_without_cycle_collection():
        for record in records:
            result.last_offsets[record.partition] = record.offset
            source = SourceRef.model_construct(topic=topic, partition=record.partition, offset=record.offset)
            if (record.partition, record.offset) in disowned:
                result.disowned.append(source)
                continue
            _audit_record(result, record, source, keep_events=keep_events, on_event=on_event)

    for arena_id, state in sorted(result.states.items()):
        result.findings.extend(
            Finding(AuditCheck.STATE_INVARIANTS, f"arena {arena_id}: {problem}") for problem in state_problems(state)
        )
        result.findings.extend(
            Finding(AuditCheck.BOOK_AGREES_WITH_STATE, f"arena {arena_id}: {problem}")
            for problem in book_state_problems(result.book.arena(arena_id), state)
        )
    return result


def _audit_record(
    result: AuditResult,
    record: TopicRecord,
    source: SourceRef,
    *,
    keep_events: bool,
    on_event: Callable[[Event], None] | None,
) -> None:
    try:
        if record.value is None:
            raise EventDecodeError("a record without a value")
        event, digest = decode_event_with_digest(record.value)
    except EventDecodeError as exc:
        _alerted(result, result.book.unreadable(arena_of_key(record.key), str(exc), source))
        return
    if record.key is not None and record.key != event.arena_id.encode():
        result.findings.append(
            Finding(
                AuditCheck.KEY_IS_ARENA,
                f"{source.where()}: key {record.key!r} differs from arena_id {event.arena_id!r}",
            )
        )
    result.event_count += 1
    _alerted(result, result.book.apply(event, digest, source))
    if result.book.applied(event):  # a refused event is never folded: the state follows the book
        state = result.states.get(event.arena_id) or ArenaState.empty(event.arena_id)
        try:
            result.states[event.arena_id] = evolve(state, event)
        except SequenceGap as exc:
            result.findings.append(Finding(AuditCheck.STATE_INVARIANTS, f"{source.where()}: {exc}"))
    if keep_events:
        result.events.append(event)
    if on_event is not None:
        on_event(event)


def _alerted(result: AuditResult, alerts: list[ConservationAlert]) -> None:
    result.alerts.extend(alerts)
    for alert in alerts:
        result.checks[alert.check] += 1
