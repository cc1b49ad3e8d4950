"""The ledger processor's balances as table rows: one head row per arena, its accounts in buckets.

The ledger processor is the second, independent witness of the money, so these rows are its own,
never the command processor's. Like the arena store, it writes only what changed, once per flush: the
arena's head row and the buckets holding the accounts the events' postings touched. An arena's
accounts are spread over `ACCOUNT_BUCKETS` rows (`<arena>␟b#<n>` -> {account: [balance, tier]}, the
bucket chosen by CRC-32 of the account name): a batch of PnL records touches an account per agent, and
one row per account made the ledger write more records than the events it checked; a bucket row stays
small (an arena's accounts / 16). Rows written before buckets (`<arena>␟<account>` -> [balance, tier])
are still read, and deleted as their accounts' buckets are written.

An arena's integrity incidents (``streams.domain.compromise``) live in its head row, so a restarted or
rebalanced worker keeps holding a compromised arena quietly instead of announcing it again.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Any, Final

from streams.domain import ArenaBook, Book
from streams.domain.accounts import AGENT_PREFIX
from streams.domain.compromise import Compromise
from streams.store.row_keys import JsonTable, row_key, split_key

_HEAD_FIELDS = ("last_seq", "last_hash", "treasury", "agents_total", "funded", "withdrawn", "pnl")
ACCOUNT_BUCKETS: Final = 16
_BUCKET = "b#"


def bucket_of(account: str) -> int:
    """Stable across processes and releases (Python's own `hash` of a str is salted per process)."""
    return zlib.crc32(account.encode("utf-8")) % ACCOUNT_BUCKETS


class LedgerStore:
    """The book's rows: `heads[arena]` and `accounts[arena␟b#n] = {account: [balance or None, tier or None]}`.

    None keeps "never posted" apart from "posted down to zero", so the rebuilt book equals the live one.
    """

    def __init__(self, heads: JsonTable, accounts: JsonTable) -> None:
        self._heads = heads
        self._accounts = accounts
        self.book = Book()
        self._loaded = False
        self._pending: dict[str, set[str]] = {}  # arena -> accounts changed since the last flush
        self._legacy = True  # one-row-per-account rows may exist until a load shows none

    def invalidate(self) -> None:
        """Forget the decoded book (partitions moved); unflushed changes go with it (see ArenaStore)."""
        self.book = Book()
        self._loaded = False
        self._pending.clear()

    def ensure_loaded(self) -> Book:
        if self._loaded:
            return self.book
        rows: dict[str, dict[str, list[Any]]] = defaultdict(dict)
        legacy = False
        for key, value in self._accounts.items():
            arena, rest = split_key(key)
            if rest.startswith(_BUCKET):
                rows[arena].update(value)
            else:
                rows[arena].setdefault(rest, value)  # a bucket row, written later, wins
                legacy = True
        self._legacy = legacy
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
        if arena_id in self._pending:
            return True  # changed in this batch: the book is ahead of the tables
        head = self._heads.get(arena_id)
        known = self.book.find(arena_id)
        return (head["last_seq"] if head else 0) == (known.last_seq if known else 0)

    def peek(self, arena_id: str) -> ArenaBook | None:
        """The ledger's head of one arena (seq, totals, incident), for a read-only query; balances are
        left out. From the decoded book when it matches the table, else from the head row alone; never
        changes what the processor holds."""
        head = self._heads.get(arena_id)
        if head is None:
            return None
        known = self.book.find(arena_id) if self._loaded else None
        if known is not None and known.last_seq == head["last_seq"]:
            return known
        arena_book = ArenaBook(arena_id)
        for name in _HEAD_FIELDS:
            setattr(arena_book, name, head[name])
        compromise = head.get("compromise")
        arena_book.compromise = Compromise.from_row(compromise) if compromise else None
        return arena_book

    def reload(self) -> Book:
        self.flush()  # changes noted in this batch reach the tables first, or the reload would lose them
        self.invalidate()
        return self.ensure_loaded()

    def save(self, arena_book: ArenaBook, accounts: set[str]) -> None:
        """Note that an event changed the arena's head and these accounts; `flush` writes them."""
        self._pending.setdefault(arena_book.arena_id, set()).update(accounts)

    def flush(self) -> int:
        """Write each head and account changed since the last flush, once; returns the arenas written."""
        for arena, accounts in self._pending.items():
            self._write(self.book.arena(arena), accounts)
        written = len(self._pending)
        self._pending.clear()
        return written

    def _write(self, arena_book: ArenaBook, accounts: set[str]) -> None:
        arena = arena_book.arena_id
        head = {name: getattr(arena_book, name) for name in _HEAD_FIELDS}
        head["compromise"] = arena_book.compromise.row() if arena_book.compromise else None
        self._heads[arena] = head
        changed = {bucket_of(account) for account in accounts}
        if not changed:
            return
        known = set(arena_book.balances) | {AGENT_PREFIX + agent_id for agent_id in arena_book.agent_tiers}
        buckets: dict[int, dict[str, list[Any]]] = {bucket: {} for bucket in changed}
        for account in known:
            bucket = buckets.get(bucket_of(account))
            if bucket is None:
                continue
            is_agent = account.startswith(AGENT_PREFIX)
            tier = arena_book.agent_tiers.get(account.removeprefix(AGENT_PREFIX)) if is_agent else None
            bucket[account] = [arena_book.balances.get(account), tier]
        for number, bucket in buckets.items():
            self._accounts[row_key(arena, f"{_BUCKET}{number}")] = dict(sorted(bucket.items()))
            if self._legacy:
                for account in bucket:
                    self._accounts.pop(row_key(arena, account), None)
