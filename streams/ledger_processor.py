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

from collections import defaultdict
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from schemas.alerts import ConservationAlert, encode_alert
from schemas.events import EventDecodeError, decode_event_with_digest
from schemas.fields import SourceRef
from streams.arena_store import SEP
from streams.domain import ArenaBook, Book, touched_agents
from streams.domain.accounts import AGENT_PREFIX
from streams.domain.book import UNKNOWN_ARENA, arena_of_key
from streams.domain.compromise import Compromise

__all__ = ["UNKNOWN_ARENA", "LedgerCounters", "LedgerProcessor", "LedgerStore", "Undecodable", "encode_alerts"]

JsonTable = MutableMapping[str, Any]

_HEAD_FIELDS = ("last_seq", "last_hash", "treasury", "agents_total", "funded", "withdrawn", "pnl")


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


class LedgerStore:
    """The book's rows: `heads[arena]` and `accounts[arena␟account] = [balance or None, tier or None]`.

    None keeps "never posted" apart from "posted down to zero", so the rebuilt book equals the live one.
    """

    def __init__(self, heads: JsonTable, accounts: JsonTable) -> None:
        self._heads = heads
        self._accounts = accounts
        self.book = Book()
        self._loaded = False

    def invalidate(self) -> None:
        self.book = Book()
        self._loaded = False

    def ensure_loaded(self) -> Book:
        if self._loaded:
            return self.book
        rows: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        for key, value in self._accounts.items():
            arena, _, account = key.partition(SEP)
            rows[arena][account] = value
        book = Book()
        for arena, head in self._heads.items():
            arena_book = book.arena(arena)
            for name in _HEAD_FIELDS:
                setattr(arena_book, name, head[name])
            compromise = head.get("compromise")  # absent from rows written before incidents were kept
            arena_book.compromise = Compromise.from_row(compromise) if compromise else None
            for account, (balance, tier) in rows.get(arena, {}).items():
                if balance is not None:
                    arena_book.balances[account] = int(balance)
                if tier is not None:
                    arena_book.agent_tiers[account.removeprefix(AGENT_PREFIX)] = tier
        self.book = book
        self._loaded = True
        return book

    def matches_table(self, arena_id: str) -> bool:
        """O(1) proof that the decoded book of an arena is the durable one (see ArenaStore)."""
        head = self._heads.get(arena_id)
        known = self.book.find(arena_id)
        return (head["last_seq"] if head else 0) == (known.last_seq if known else 0)

    def reload(self) -> Book:
        self.invalidate()
        return self.ensure_loaded()

    def save(self, arena_book: ArenaBook, accounts: set[str]) -> None:
        arena = arena_book.arena_id
        head = {name: getattr(arena_book, name) for name in _HEAD_FIELDS}
        head["compromise"] = arena_book.compromise.row() if arena_book.compromise else None
        self._heads[arena] = head
        for account in accounts:
            is_agent = account.startswith(AGENT_PREFIX)
            tier = arena_book.agent_tiers.get(account.removeprefix(AGENT_PREFIX)) if is_agent else None
            self._accounts[f"{arena}{SEP}{account}"] = [arena_book.balances.get(account), tier]


class LedgerProcessor:
    def __init__(self, store: LedgerStore) -> None:
        self.store = store
        self.counters = LedgerCounters()

    def handle(
        self, key: bytes | None, value: bytes | None, *, topic: str, partition: int, offset: int
    ) -> tuple[ConservationAlert, ...]:
        """Apply one event to the book; return its alerts (the agent sends them, encoded, to arena.alerts)."""
        book = self.store.ensure_loaded()
        source = SourceRef(topic=topic, partition=partition, offset=offset)
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
            self.counters.alerts += len(alerts)
            return tuple(alerts)
        self.counters.events += 1
        if not self.store.matches_table(event.arena_id):
            book = self.store.reload()
        alerts = book.apply(event, digest, source)
        touched = {account for posting in event.postings for account in (posting.debit, posting.credit)}
        touched.update(AGENT_PREFIX + agent_id for agent_id in touched_agents(event))
        self.store.save(book.arena(event.arena_id), touched if book.applied(event) else set())
        self.counters.alerts += len(alerts)
        return tuple(alerts)


def encode_alerts(alerts: tuple[ConservationAlert, ...]) -> list[bytes]:
    return [encode_alert(alert) for alert in alerts]
