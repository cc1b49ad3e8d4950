"""The book: balances rebuilt from postings alone, and the integrity checks on each event.

The book never looks at ``ArenaState``. It learns balances only from the postings written in events,
so it is a second, independent witness of the money: the ledger processor runs it live, replay and
audit run it over history. Per event it costs O(postings), except a ``CapitalConservationCheck``,
which sums the agents of each tier.

Checks (each failure is a ``ConservationAlert`` with its evidence):
  seq contiguity (``SEQ_GAP``; an event at or below the last seq is ``SEQ_DUPLICATE`` and is *not*
  applied again), hash chain (``HASH_CHAIN_BROKEN`` when ``prev_hash`` is not the previous event's
  hash, ``HASH_MISMATCH`` when the event's bytes do not hash to its ``hash``), postings well-formed
  (``UNBALANCED_POSTINGS``, ``UNKNOWN_ACCOUNT``) and equal to what the payload implies
  (``POSTINGS_MISMATCH_PAYLOAD``), no negative treasury or agent account (``NEGATIVE_BALANCE``), a killed
  agent left with nothing (``KILLED_AGENT_HOLDS_CAPITAL``), conservation ``treasury + agents ==
  funded - withdrawn + pnl`` (``CONSERVATION_BROKEN``), and every ``CapitalConservationCheck`` equal
  to the book's own totals (``CHECK_TOTALS_MISMATCH``).

A record that fails a check is never applied, and the first one makes its arena *compromised*:
its alerts are followed by one ``ARENA_COMPROMISED`` alert, and the arena's later records are checked
quietly until one continues its chain again (``streams.domain.compromise`` says why and how). So a
bad record yields its alerts once, not an alert on every event after it, and the book never follows
a forgery.

Hash verification needs the event as written. Callers that read bytes pass the digest from
``schemas.events.decode_event_with_digest``; without one the book recomputes it from the model, which
is only right for events in the current schema version (upcast events would look tampered).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from schemas.alerts import Check, ConservationAlert
from schemas.events import (
    GENESIS_HASH,
    AgentGraduated,
    AgentKilled,
    AgentSpawned,
    CapitalConservationCheck,
    Event,
    event_digest,
)
from schemas.fields import ARENA_ID_PATTERN, TIERS, SourceRef, Tier
from streams.domain.accounts import AGENT_PREFIX, EXTERNAL, MARKET, TREASURY, is_known
from streams.domain.compromise import Compromise, compromised_alert, undecodable_alert, where_of
from streams.domain.postings import postings_of

UNKNOWN_ARENA: Final = "unknown-arena"  # for alerts about records whose key is not an arena id
_ARENA_ID: Final = re.compile(ARENA_ID_PATTERN)


def arena_of_key(key: bytes | None) -> str | None:
    """The arena a record's key names, or None when the key is not an arena id."""
    if key is None:
        return None
    text = key.decode("utf-8", errors="replace")
    return text if _ARENA_ID.fullmatch(text) else None


@dataclass(slots=True)
class ArenaBook:
    """One arena's balances and running totals, all derived from postings."""

    arena_id: str
    balances: dict[str, int] = field(default_factory=dict)
    last_seq: int = 0
    last_hash: str = GENESIS_HASH
    treasury: int = 0
    agents_total: int = 0
    funded: int = 0
    withdrawn: int = 0
    pnl: int = 0
    agent_tiers: dict[str, Tier] = field(default_factory=dict)
    compromise: Compromise | None = None

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    def tier_capital(self) -> dict[Tier, int]:
        capital: dict[Tier, int] = dict.fromkeys(TIERS, 0)
        for agent_id, tier in self.agent_tiers.items():
            capital[tier] += self.balances.get(AGENT_PREFIX + agent_id, 0)
        return capital


class _Trial:
    """One event's effect on an arena's book, worked out before it is applied (a bad event never is).

    Changed balances and agent tiers are kept apart (O(postings)); ``commit`` writes them through.
    """

    def __init__(self, book: ArenaBook) -> None:
        self.book = book
        self.balances: dict[str, int] = {}
        self.tiers: dict[str, Tier | None] = {}  # None: the agent left the book (killed)
        self.treasury = book.treasury
        self.agents_total = book.agents_total
        self.funded = book.funded
        self.withdrawn = book.withdrawn
        self.pnl = book.pnl

    def balance(self, account: str) -> int:
        found = self.balances.get(account)
        return found if found is not None else self.book.balances.get(account, 0)

    def tier_capital(self) -> dict[Tier, int]:
        capital: dict[Tier, int] = dict.fromkeys(TIERS, 0)
        tiers: dict[str, Tier | None] = {**self.book.agent_tiers, **self.tiers}
        for agent_id, tier in tiers.items():
            if tier is not None:
                capital[tier] += self.balance(AGENT_PREFIX + agent_id)
        return capital

    def commit(self) -> None:
        book = self.book
        book.balances.update(self.balances)
        for agent_id, tier in self.tiers.items():
            if tier is None:
                book.agent_tiers.pop(agent_id, None)
            else:
                book.agent_tiers[agent_id] = tier
        book.treasury, book.agents_total = self.treasury, self.agents_total
        book.funded, book.withdrawn, book.pnl = self.funded, self.withdrawn, self.pnl


class _Alerts:
    def __init__(self, book: ArenaBook, event: Event, source: SourceRef | None) -> None:
        self.book = book
        self.event = event
        self.source = source
        self.found: list[ConservationAlert] = []

    def add(self, check: Check, expected: object, actual: object, message: str, detail: str = "") -> None:
        suffix = f":{detail}" if detail else ""
        self.found.append(
            ConservationAlert(
                alert_id=f"{self.event.event_id}:{check.value}{suffix}",
                arena_id=self.event.arena_id,
                check=check,
                event_id=self.event.event_id,
                seq=self.event.seq,
                expected=str(expected),
                actual=str(actual),
                message=message,
                source=self.source,
            )
        )


def _show_postings(entries: tuple[tuple[str, str, int], ...]) -> str:
    return ",".join(f"{debit}<-{credit}:{amount}" for debit, credit, amount in entries) or "(none)"


class Book:
    """Books of many arenas (one partition's worth in the ledger processor)."""

    def __init__(self) -> None:
        self._arenas: dict[str, ArenaBook] = {}

    def arena(self, arena_id: str) -> ArenaBook:
        book = self._arenas.get(arena_id)
        if book is None:
            book = self._arenas[arena_id] = ArenaBook(arena_id)
        return book

    def arenas(self) -> dict[str, ArenaBook]:
        return dict(self._arenas)

    def absorb(self, other: Book) -> None:
        """Take over the arenas of another book (a replay of other partitions: arenas never overlap)."""
        for arena_id, book in other._arenas.items():
            if arena_id in self._arenas:
                raise ValueError(f"arena {arena_id} is in both books")
            self._arenas[arena_id] = book

    def find(self, arena_id: str) -> ArenaBook | None:
        """The arena's book if it has one (unlike ``arena``, creates nothing)."""
        return self._arenas.get(arena_id)

    def applied(self, event: Event) -> bool:
        """True when ``event`` is the last one applied to its arena's book (the caller may fold it)."""
        book = self._arenas.get(event.arena_id)
        return book is not None and book.last_seq == event.seq and book.last_hash == event.hash

    def apply(
        self, event: Event, digest: str | None = None, source: SourceRef | None = None
    ) -> list[ConservationAlert]:
        """Check one event and apply it if every check holds; returns its alerts (empty when all is well).

        ``source`` is where the record sits, quoted in the alerts.
        """
        book = self.arena(event.arena_id)
        alerts = _Alerts(book, event, source)
        if event.seq <= book.last_seq:
            alerts.add(Check.SEQ_DUPLICATE, book.last_seq + 1, event.seq, "event at or below the last seq; not applied")
            if event.seq == book.last_seq and event.hash == book.last_hash:  # the same event again: harmless
                return [] if _holding(book) else alerts.found
            return self._incident(book, event.event_id, event.seq, alerts.found, source)
        if event.seq != book.last_seq + 1:
            alerts.add(Check.SEQ_GAP, book.last_seq + 1, event.seq, f"{event.seq - book.last_seq - 1} event(s) missing")
        if event.prev_hash != book.last_hash:
            alerts.add(
                Check.HASH_CHAIN_BROKEN, book.last_hash, event.prev_hash, "prev_hash is not the last event's hash"
            )
        computed = digest if digest is not None else event_digest(event)
        if computed != event.hash:
            alerts.add(Check.HASH_MISMATCH, computed, event.hash, "the event's content does not hash to its hash")
        trial = _Trial(book)
        self._post(trial, event, alerts)
        self._follow_payload(trial, event, alerts)
        if alerts.found:
            return self._incident(book, event.event_id, event.seq, alerts.found, source)
        trial.commit()
        book.last_seq = event.seq
        book.last_hash = event.hash
        if book.compromise is not None and book.compromise.holding:
            book.compromise.holding = False
            book.compromise.resumed_at = where_of(source) or f"seq {event.seq}"
        return []

    def unreadable(self, arena_id: str | None, error: str, source: SourceRef) -> list[ConservationAlert]:
        """A record that is not an event (``arena_id``: what its key names, None if not an arena id)."""
        alert = undecodable_alert(arena_id or UNKNOWN_ARENA, error, source)
        if arena_id is None:
            return [alert]
        return self._incident(self.arena(arena_id), source.where(), 0, [alert], source)

    @staticmethod
    def _incident(
        book: ArenaBook, event_id: str, seq: int, found: list[ConservationAlert], source: SourceRef | None
    ) -> list[ConservationAlert]:
        """A record that is not applied: the start of an incident (said once), or held quietly in one."""
        compromise = book.compromise
        if compromise is not None and compromise.holding:
            compromise.held += 1
            return []
        checks = list(dict.fromkeys(alert.check.value for alert in found))
        verdict = compromised_alert(
            book.arena_id,
            event_id=event_id,
            seq=seq,
            checks=checks,
            trusted_seq=book.last_seq,
            trusted_hash=book.last_hash,
            source=source,
            again=compromise is not None,
        )
        if compromise is None:
            book.compromise = Compromise(
                first_where=where_of(source),
                first_event_id=event_id,
                first_seq=seq,
                first_checks=tuple(checks),
                trusted_seq=book.last_seq,
                held=1,
            )
        else:
            compromise.incidents += 1
            compromise.held += 1
            compromise.holding = True
        return [*found, verdict]

    @staticmethod
    def _post(trial: _Trial, event: Event, alerts: _Alerts) -> None:
        written = tuple((p.debit, p.credit, p.amount) for p in event.postings)
        implied = tuple((p.debit, p.credit, p.amount) for p in postings_of(event.payload))
        if written != implied:
            alerts.add(
                Check.POSTINGS_MISMATCH_PAYLOAD,
                _show_postings(implied),
                _show_postings(written),
                f"postings differ from what the {event.type} payload implies",
            )
        touched: list[str] = []
        for index, (debit, credit, amount) in enumerate(written):
            if amount < 1 or debit == credit:
                alerts.add(
                    Check.UNBALANCED_POSTINGS,
                    "amount >= 1 and debit != credit",
                    f"{debit}<-{credit}:{amount}",
                    "malformed posting",
                    str(index),
                )
            for account, change in ((debit, amount), (credit, -amount)):
                if not is_known(account):
                    alerts.add(Check.UNKNOWN_ACCOUNT, "a known account", account, "posting names an unknown account")
                trial.balances[account] = trial.balance(account) + change
                if account == TREASURY:
                    trial.treasury += change
                    touched.append(account)
                elif account.startswith(AGENT_PREFIX):
                    trial.agents_total += change
                    touched.append(account)
                elif account == EXTERNAL:
                    if change < 0:
                        trial.funded -= change
                    else:
                        trial.withdrawn += change
                elif account == MARKET:
                    trial.pnl -= change
        for account in dict.fromkeys(touched):
            if trial.balances[account] < 0:
                alerts.add(Check.NEGATIVE_BALANCE, ">= 0", trial.balances[account], f"{account} went negative", account)
        capital = trial.treasury + trial.agents_total
        net = trial.funded - trial.withdrawn + trial.pnl
        if capital != net:
            alerts.add(
                Check.CONSERVATION_BROKEN,
                net,
                capital,
                "treasury + agents != funded - withdrawn + pnl (expected: the right-hand side)",
            )

    @staticmethod
    def _follow_payload(trial: _Trial, event: Event, alerts: _Alerts) -> None:
        payload = event.payload
        if isinstance(payload, AgentSpawned):
            trial.tiers[payload.agent_id] = payload.tier
        elif isinstance(payload, AgentGraduated):
            trial.tiers[payload.agent_id] = payload.to_tier
        elif isinstance(payload, AgentKilled):
            trial.tiers[payload.agent_id] = None
            left = trial.balance(AGENT_PREFIX + payload.agent_id)
            if left != 0:
                alerts.add(Check.KILLED_AGENT_HOLDS_CAPITAL, 0, left, f"killed agent {payload.agent_id} holds capital")
        elif isinstance(payload, CapitalConservationCheck):
            tiers = trial.tier_capital()
            pairs = {
                "treasury": (trial.treasury, payload.treasury),
                "agents_total": (trial.agents_total, payload.agents_total),
                "funded": (trial.funded, payload.funded),
                "withdrawn": (trial.withdrawn, payload.withdrawn),
                "pnl": (trial.pnl, payload.pnl),
                "tier_capital.incubator": (tiers["incubator"], payload.tier_capital.incubator),
                "tier_capital.proving": (tiers["proving"], payload.tier_capital.proving),
                "tier_capital.arena": (tiers["arena"], payload.tier_capital.arena),
            }
            for name, (own, reported) in pairs.items():
                if own != reported:
                    alerts.add(Check.CHECK_TOTALS_MISMATCH, own, reported, f"{name}: the book has {own}", name)


def _holding(book: ArenaBook) -> bool:
    return book.compromise is not None and book.compromise.holding
