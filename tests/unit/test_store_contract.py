"""The store contract over plain dicts (the same cases run over real Faust tables in
tests/integration/test_store_contract.py, and must give the same observations)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from streams.store.table_names import ARENA_AGENTS, ARENA_HEADERS, ARENA_WINDOWS
from tests.support.store_cases import CASES, Observation


def run_over_dicts(name: str) -> Observation:
    tables: defaultdict[str, dict[str, Any]] = defaultdict(dict)
    return CASES[name](tables.__getitem__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_case_holds_over_plain_dicts(name: str) -> None:
    observed = run_over_dicts(name)
    assert all(observed.get(flag, True) for flag in ("equal", "empty", "unchanged")), observed


def test_a_window_of_three_remembers_three_ids_in_one_chunk_row() -> None:
    observed = run_over_dicts("window_rows_leave_with_their_ids")
    assert observed["rows"] == 1 and len(observed["remembered"]) == 3


def test_a_batch_writes_each_changed_row_once() -> None:
    observed = run_over_dicts("only_changed_rows_are_written")
    assert observed == {ARENA_HEADERS: [1, 0], ARENA_AGENTS: [1, 0], ARENA_WINDOWS: [1, 0]}


def test_window_rows_of_the_one_row_per_id_format_are_read_and_deleted_as_they_leave() -> None:
    """Tables written before window chunks existed hold `<arena>␟c␟<id>` -> counter rows."""
    from streams.domain import execute, to_rows  # noqa: PLC0415
    from streams.store.arena_store import ArenaStore  # noqa: PLC0415
    from tests.support.store_cases import _history, _run  # noqa: PLC0415

    tables: defaultdict[str, dict[str, Any]] = defaultdict(dict)
    store = ArenaStore(tables[ARENA_HEADERS], tables[ARENA_AGENTS], tables[ARENA_WINDOWS])
    commands = list(_history("legacy", window=4, pnl_days=3))
    state = _run(store, "legacy", iter(commands[:-2]))
    windows = tables[ARENA_WINDOWS]
    for key in list(windows):  # rewrite the chunks as one row per id, as the old format did
        chunk = windows.pop(key)
        for offset, entry in enumerate(chunk["keys"]):
            windows[f"legacy\x1fc\x1f{entry}"] = chunk["from"] + offset
    fresh = ArenaStore(tables[ARENA_HEADERS], tables[ARENA_AGENTS], windows)
    assert to_rows(fresh.load("legacy")) == to_rows(state)
    for cmd in commands[-2:]:
        outcome = execute(state, cmd)
        fresh.save(state, outcome.state, outcome.events)
        state = outcome.state
    fresh.flush()
    legacy = [key for key in windows if key.startswith("legacy\x1fc\x1f")]
    assert len(legacy) == 2, "the two oldest ids left the window of four, and their rows with them"
    assert to_rows(ArenaStore(tables[ARENA_HEADERS], tables[ARENA_AGENTS], windows).load("legacy")) == to_rows(state)


def test_ledger_account_rows_of_the_one_row_per_account_format_are_read_and_replaced_by_buckets() -> None:
    from streams.domain import Book  # noqa: PLC0415
    from streams.store.ledger_store import LedgerStore  # noqa: PLC0415
    from streams.store.table_names import LEDGER_ACCOUNTS, LEDGER_HEADS  # noqa: PLC0415

    tables: defaultdict[str, dict[str, Any]] = defaultdict(dict)
    run_ledger = CASES["ledger_round_trip"]
    observed = run_ledger(tables.__getitem__)
    assert observed["equal"] and observed["accounts"] > 1
    accounts = tables[LEDGER_ACCOUNTS]
    buckets = dict(accounts)
    accounts.clear()
    for key, bucket in buckets.items():  # rewrite the buckets as one row per account, as the old format did
        arena = key.split("\x1f", 1)[0]
        for account, row in bucket.items():
            accounts[f"{arena}\x1f{account}"] = row
    legacy = LedgerStore(tables[LEDGER_HEADS], accounts).ensure_loaded().arena("ledger")
    fresh = LedgerStore(tables[LEDGER_HEADS], dict(buckets)).ensure_loaded().arena("ledger")
    assert (legacy.balances, legacy.agent_tiers) == (fresh.balances, fresh.agent_tiers)
    store = LedgerStore(tables[LEDGER_HEADS], accounts)
    book: Book = store.ensure_loaded()
    store.save(book.arena("ledger"), set(book.arena("ledger").balances))  # every account touched once more
    store.flush()
    assert all("#" in key.split("\x1f", 1)[1] for key in accounts), "the per-account rows were replaced"
