"""The store contract: cases every pair of stores must pass, whatever tables hold their rows.

The arena and ledger stores (streams/store/) see their tables as plain mappings. The worker gives them
Faust tables, the audit and the unit tests plain dicts; a behaviour that held over one and not the other
(a write Faust never sends to the changelog, a deletion a dict forgets) would make the live state and
the replayed state drift apart. So each case here takes a `Tables` (table name -> mapping), runs a
history through the pure core and the stores, loads it back with fresh stores over the same tables, and
returns what it saw as JSON-able observations. tests/unit/test_store_contract.py runs the cases over
dicts; tests/integration/test_store_contract.py runs them inside a real Faust agent over real tables and
checks that both give the same observations.

Each case uses arenas of its own (the case name), so cases can share one set of tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from schemas.events import decode_event_with_digest, encode_event
from streams.domain import ArenaState, execute, to_rows, touched_agents
from streams.domain.accounts import AGENT_PREFIX
from streams.store.arena_store import ArenaStore
from streams.store.ledger_store import LedgerStore
from streams.store.table_names import ARENA_AGENTS, ARENA_HEADERS, ARENA_WINDOWS, LEDGER_ACCOUNTS, LEDGER_HEADS
from tests.support.builders import command, money, small_policies

Tables = Callable[[str], MutableMapping[str, Any]]
Observation = dict[str, Any]


class _Counting(MutableMapping[str, Any]):
    """A table that counts what a store writes and deletes (the Faust table's changelog would carry each)."""

    def __init__(self, inner: MutableMapping[str, Any]) -> None:
        self.inner = inner
        self.writes = 0
        self.deletes = 0

    def __getitem__(self, key: str) -> Any:
        return self.inner[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes += 1
        self.inner[key] = value

    def __delitem__(self, key: str) -> None:
        self.deletes += 1
        del self.inner[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.inner)

    def __len__(self) -> int:
        return len(self.inner)


def _arena_store(tables: Tables) -> ArenaStore:
    return ArenaStore(tables(ARENA_HEADERS), tables(ARENA_AGENTS), tables(ARENA_WINDOWS))


def _history(arena_id: str, *, window: int = 1_000, pnl_days: int = 3) -> Iterator[Any]:
    policies = small_policies()
    policies["evolution_policy"]["command_id_window"] = window
    n = iter(range(1, 1_000_000))

    def cmd(type_: str, **fields: Any) -> Any:
        return command(type_, arena_id=arena_id, command_id=f"{arena_id}-{next(n)}", **fields)

    yield cmd("CreateArena", currency="EUR", seed=7, **policies)
    yield cmd("FundArena", amount=money(5_000_000))
    for agent in ("a", "b", "c"):
        yield cmd("SpawnAgent", agent_id=agent, genome={"lookback": 20, "risk": 5}, tier="incubator")
        yield cmd("AllocateCapital", agent_id=agent, amount=money(200_000))
    for day in range(pnl_days):
        yield cmd("RecordPnL", agent_id="a", amount=money(900), period=day, source="simulation")
        yield cmd("RecordPnL", agent_id="b", amount=money(-400), period=day, source="simulation")
    yield cmd("KillAgent", agent_id="c", reason="test")
    yield cmd("RunEvolutionCycle", cycle=1)


def _run(store: ArenaStore, arena_id: str, commands: Iterator[Any], *, batch: int = 1) -> ArenaState:
    """Run the commands, flushing the store every `batch` commands (the worker's unit of work)."""
    state = store.load(arena_id)
    for n, cmd in enumerate(commands, start=1):
        outcome = execute(state, cmd)
        store.save(state, outcome.state, outcome.events)
        state = outcome.state
        if n % batch == 0:
            store.flush()
    store.flush()
    return state


def arena_round_trip(tables: Tables) -> Observation:
    """A fresh store over the same tables loads exactly the state the first one saved."""
    arena_id = "round-trip"
    expected = _run(_arena_store(tables), arena_id, _history(arena_id))
    loaded = _arena_store(tables).load(arena_id)
    return {"equal": to_rows(loaded) == to_rows(expected), "seq": loaded.last_seq, "agents": len(loaded.agents)}


def window_rows_leave_with_their_ids(tables: Tables) -> Observation:
    """The idempotency window keeps only the newest ids: a whole chunk row of evicted ids is deleted, and
    what a chunk still holds below the window's head is not remembered."""
    arena_id = "window"
    expected = _run(_arena_store(tables), arena_id, _history(arena_id, window=3, pnl_days=4))
    windows = tables(ARENA_WINDOWS)
    rows = sorted(key for key in windows if key.startswith(f"{arena_id}\x1f"))
    loaded = _arena_store(tables).load(arena_id)
    return {
        "rows": len(rows),
        "remembered": sorted(key for _counter, key in loaded.command_ids.entries()),
        "equal": to_rows(loaded) == to_rows(expected),
    }


def only_changed_rows_are_written(tables: Tables) -> Observation:
    """A batch of PnL commands of one agent rewrites the header, that agent's row and the newest window
    chunk, each once — not the whole arena, and not once per command."""
    arena_id = "changed-rows"
    store = _arena_store(tables)
    state = _run(store, arena_id, _history(arena_id, pnl_days=1))
    counted = {name: _Counting(tables(name)) for name in (ARENA_HEADERS, ARENA_AGENTS, ARENA_WINDOWS)}
    counting = ArenaStore(counted[ARENA_HEADERS], counted[ARENA_AGENTS], counted[ARENA_WINDOWS])
    for period in range(10, 20):  # ten PnL records of one agent in one batch
        one_more = command(
            "RecordPnL",
            arena_id=arena_id,
            command_id=f"{arena_id}-pnl-{period}",
            agent_id="a",
            amount=money(100),
            period=period,
            source="simulation",
        )
        outcome = execute(state, one_more)
        counting.save(state, outcome.state, outcome.events)
        state = outcome.state
    counting.flush()
    return {name: [table.writes, table.deletes] for name, table in counted.items()}


def ledger_round_trip(tables: Tables) -> Observation:
    """The ledger store keeps the book's heads and touched accounts; a fresh store loads the same book."""
    arena_id = "ledger"
    store = LedgerStore(tables(LEDGER_HEADS), tables(LEDGER_ACCOUNTS))
    book = store.ensure_loaded()
    state = ArenaState.empty(arena_id)
    for cmd in _history(arena_id):
        outcome = execute(state, cmd)
        state = outcome.state
        for event in outcome.events:
            decoded, digest = decode_event_with_digest(encode_event(event))
            book.apply(decoded, digest)
            touched = {account for posting in decoded.postings for account in (posting.debit, posting.credit)}
            touched.update(AGENT_PREFIX + agent_id for agent_id in touched_agents(decoded))
            store.save(book.arena(arena_id), touched)
    store.flush()
    fresh = LedgerStore(tables(LEDGER_HEADS), tables(LEDGER_ACCOUNTS)).ensure_loaded().arena(arena_id)
    kept = book.arena(arena_id)
    return {
        "equal": (fresh.balances, fresh.last_seq, fresh.last_hash, fresh.treasury, fresh.agent_tiers)
        == (kept.balances, kept.last_seq, kept.last_hash, kept.treasury, kept.agent_tiers),
        "accounts": len(fresh.balances),
        "seq": fresh.last_seq,
    }


def unknown_arena_is_empty(tables: Tables) -> Observation:
    """An arena the tables never heard of loads as the empty state, and nothing is written by loading."""
    before = {name: len(tables(name)) for name in (ARENA_HEADERS, ARENA_AGENTS, ARENA_WINDOWS)}
    loaded = _arena_store(tables).load("never-seen")
    after = {name: len(tables(name)) for name in (ARENA_HEADERS, ARENA_AGENTS, ARENA_WINDOWS)}
    return {"empty": loaded == ArenaState.empty("never-seen"), "unchanged": before == after}


CASES: dict[str, Callable[[Tables], Observation]] = {
    case.__name__: case
    for case in (
        arena_round_trip,
        window_rows_leave_with_their_ids,
        only_changed_rows_are_written,
        ledger_round_trip,
        unknown_arena_is_empty,
    )
}
