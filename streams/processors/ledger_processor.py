"""One event in, its alerts out: the ledger processor minus Kafka.

The ledger processor is the second, independent witness of the money. It owns its balances (rows
in its own tables, never the command processor's state), rebuilds them from postings only through
the pure book (streams/domain/book.py), and turns every failed check into a `ConservationAlert`.
Like the arena store, it writes only what an event changed: the arena's head row and the accounts
the event's postings touched. An arena's integrity incidents (``streams.domain.compromise``) live in
its head row, so a restarted or rebalanced worker keeps holding a compromised arena quietly instead
of announcing it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas.alerts import ConservationAlert, encode_alert
from schemas.events import EventDecodeError, decode_event_with_digest
from schemas.fields import SourceRef
from streams.domain import touched_agents
from streams.domain.accounts import AGENT_PREFIX
from streams.domain.book import UNKNOWN_ARENA, arena_of_key
from streams.store.ledger_store import LedgerStore

__all__ = ["UNKNOWN_ARENA", "LedgerCounters", "LedgerProcessor", "Undecodable", "encode_alerts"]


@dataclass(frozen=True, slots=True)
class Undecodable:
    """Bytes on the event topic that are not an event: reported, never skipped silently."""

    partition: int
    offset: int
    error: str


@dataclass(slots=True)
class LedgerCounters:
    events: int = 0
    alerts: int = 0
    undecodable: list[Undecodable] = field(default_factory=list)
    alerts_by_check: dict[str, int] = field(default_factory=dict)

    def alerted(self, alerts: Iterable[ConservationAlert]) -> None:
        for alert in alerts:
            self.alerts += 1
            check = alert.check.value
            self.alerts_by_check[check] = self.alerts_by_check.get(check, 0) + 1


class LedgerProcessor:
    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self.counters = LedgerCounters()

    def handle(
        self, key: bytes | None, value: bytes | None, *, topic: str, partition: int, offset: int
    ) -> tuple[ConservationAlert, ...]:
        """Apply one event to the book as a unit of its own; return its alerts (the agent sends them,
        encoded, to arena.alerts)."""
        alerts = self._process(key, value, SourceRef(topic=topic, partition=partition, offset=offset))
        self.store.flush()
        return alerts

    def handle_batch(
        self, records: Sequence[tuple[bytes | None, bytes | None, SourceRef]]
    ) -> list[tuple[ConservationAlert, ...]]:
        """Several events as one unit, in order; every changed row written once, at the end."""
        alerts = [self._process(key, value, source) for key, value, source in records]
        self.store.flush()
        return alerts

    def _process(self, key: bytes | None, value: bytes | None, source: SourceRef) -> tuple[ConservationAlert, ...]:
        book = self.store.ensure_loaded()
        partition, offset = source.partition, source.offset
        try:
            if value is None:
                raise EventDecodeError("a record without a value")
            event, digest = decode_event_with_digest(value)
        except EventDecodeError as exc:
            self.counters.undecodable.append(Undecodable(partition, offset, str(exc)))
            arena = arena_of_key(key)
            if arena is not None and not self.store.matches_table(arena):
                book = self.store.reload()
            alerts = book.unreadable(arena, str(exc), source)
            if arena is not None:
                self.store.save(book.arena(arena), set())
            self.counters.alerted(alerts)
            return tuple(alerts)
        self.counters.events += 1
        if not self.store.matches_table(event.arena_id):
            book = self.store.reload()
        alerts = book.apply(event, digest, source)
        touched = {account for posting in event.postings for account in (posting.debit, posting.credit)}
        touched.update(AGENT_PREFIX + agent_id for agent_id in touched_agents(event))
        self.store.save(book.arena(event.arena_id), touched if book.applied(event) else set())
        if alerts:
            self.counters.alerted(alerts)
        return tuple(alerts)


def encode_alerts(alerts: tuple[ConservationAlert, ...]) -> list[bytes]:
    return [encode_alert(alert) for alert in alerts]
