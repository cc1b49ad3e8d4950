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

After an alert the book keeps going (it applies the event's postings as written, except duplicates)
so that one bad event yields its alerts, not an alert on every event after it.

Hash verification needs the event as written. Callers that read bytes pass the digest from
``schemas.events.decode_event_with_digest``; without one the book recomputes it from the model, which
is only right for events in the current schema version (upcast events would look tampered).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from schemas.fields import TIERS, Tier
from streams.domain.accounts import AGENT_PREFIX, EXTERNAL, MARKET, TREASURY, is_known
from streams.domain.postings import postings_of


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

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    def tier_capital(self) -> dict[Tier, int]:
        capital: dict[Tier, int] = dict.fromkeys(TIERS, 0)
        for agent_id, tier in self.agent_tiers.items():
            capital[tier] += self.balances.get(AGENT_PREFIX + agent_id, 0)
        return capital


class _Alerts:
    def __init__(self, book: ArenaBook, event: Event) -> None:
        self.book = book
        self.event = event
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

    def find(self, arena_id: str) -> ArenaBook | None:
        """The arena's book if it has one (unlike ``arena``, creates nothing)."""
        return self._arenas.get(arena_id)

    def apply(self, event: Event, digest: str | None = None) -> list[ConservationAlert]:
        """Check and apply one event; returns its alerts (empty when all is well)."""
        book = self.arena(event.arena_id)
        alerts = _Alerts(book, event)
        if event.seq <= book.last_seq:
            alerts.add(Check.SEQ_DUPLICATE, book.last_seq + 1, event.seq, "event at or below the last seq; not applied")
            return alerts.found
        if event.seq != book.last_seq + 1:
            alerts.add(Check.SEQ_GAP, book.last_seq + 1, event.seq, f"{event.seq - book.last_seq - 1} event(s) missing")
        if event.prev_hash != book.last_hash:
            alerts.add(
                Check.HASH_CHAIN_BROKEN, book.last_hash, event.prev_hash, "prev_hash is not the last event's hash"
            )
        computed = digest if digest is not None else event_digest(event)
        if computed != event.hash:
            alerts.add(Check.HASH_MISMATCH, computed, event.hash, "the event's content does not hash to its hash")
        self._post(book, event, alerts)
        self._follow_payload(book, event, alerts)
        book.last_seq = event.seq
        book.last_hash = event.hash
        return alerts.found

    @staticmethod
    def _post(book: ArenaBook, event: Event, alerts: _Alerts) -> None:
        written = tuple((p.debit, p.credit, p.amount) for p in event.postings)
        implied = tuple((p.debit, p.credit, p.amount) for p in postings_of(event.payload))
        if written != implied:
            alerts.add(
                Check.POSTINGS_MISMATCH_PAYLOAD,
                _show_postings(implied),
                _show_postings(written),
                f"postings differ from what the {event.type} payload implies",
            )
        balances = book.balances
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
                balances[account] = balances.get(account, 0) + change
                if account == TREASURY:
                    book.treasury += change
                    touched.append(account)
                elif account.startswith(AGENT_PREFIX):
                    book.agents_total += change
                    touched.append(account)
                elif account == EXTERNAL:
                    if change < 0:
                        book.funded -= change
                    else:
                        book.withdrawn += change
                elif account == MARKET:
                    book.pnl -= change
        for account in dict.fromkeys(touched):
            if balances[account] < 0:
                alerts.add(Check.NEGATIVE_BALANCE, ">= 0", balances[account], f"{account} went negative", account)
        capital = book.treasury + book.agents_total
        net = book.funded - book.withdrawn + book.pnl
        if capital != net:
            alerts.add(
                Check.CONSERVATION_BROKEN,
                net,
                capital,
                "treasury + agents != funded - withdrawn + pnl (expected: the right-hand side)",
            )

    @staticmethod
    def _follow_payload(book: ArenaBook, event: Event, alerts: _Alerts) -> None:
        payload = event.payload
        if isinstance(payload, AgentSpawned):
            book.agent_tiers[payload.agent_id] = payload.tier
        elif isinstance(payload, AgentGraduated):
            book.agent_tiers[payload.agent_id] = payload.to_tier
        elif isinstance(payload, AgentKilled):
            book.agent_tiers.pop(payload.agent_id, None)
            left = book.balance(AGENT_PREFIX + payload.agent_id)
            if left != 0:
                alerts.add(Check.KILLED_AGENT_HOLDS_CAPITAL, 0, left, f"killed agent {payload.agent_id} holds capital")
        elif isinstance(payload, CapitalConservationCheck):
            tiers = book.tier_capital()
            pairs = {
                "treasury": (book.treasury, payload.treasury),
                "agents_total": (book.agents_total, payload.agents_total),
                "funded": (book.funded, payload.funded),
                "withdrawn": (book.withdrawn, payload.withdrawn),
                "pnl": (book.pnl, payload.pnl),
                "tier_capital.incubator": (tiers["incubator"], payload.tier_capital.incubator),
                "tier_capital.proving": (tiers["proving"], payload.tier_capital.proving),
                "tier_capital.arena": (tiers["arena"], payload.tier_capital.arena),
            }
            for name, (own, reported) in pairs.items():
                if own != reported:
                    alerts.add(Check.CHECK_TOTALS_MISMATCH, own, reported, f"{name}: the book has {own}", name)
