"""The ledger processor's book, persisted piecewise, and its alerts — without a broker."""

from __future__ import annotations

import orjson

from schemas.alerts import Check
from schemas.commands import encode_command
from streams.kafka.partitioning import partition_for
from streams.processors.command_processor import CommandProcessor
from streams.processors.dead_letter import SourceRef
from streams.processors.ledger_processor import LedgerProcessor
from streams.store.arena_store import ArenaStore
from streams.store.ledger_store import LedgerStore
from tests.support.builders import ARENA, command, money, small_policies

PARTITIONS = 4


def _event_stream() -> list[bytes]:
    processor = CommandProcessor(ArenaStore({}, {}, {}), partitions=PARTITIONS)
    partition = partition_for(ARENA, PARTITIONS)
    commands = [
        command("CreateArena", currency="EUR", seed=1, **small_policies()),
        command("FundArena", amount=money(1_000_000)),
        command("SpawnAgent", agent_id="a1", genome={"exposure_bps": 100}),
        command("SpawnAgent", agent_id="a2", genome={"exposure_bps": 200}),
        command("AllocateCapital", agent_id="a1", amount=money(5_000)),
        command("AllocateCapital", agent_id="a2", amount=money(7_000)),
        command("RecordPnL", agent_id="a1", amount=-1_200, currency="EUR", period=1, source="simulation"),
        command("RecordPnL", agent_id="a2", amount=3_000, currency="EUR", period=1, source="trading", fill_ref="f-1"),
        command("KillAgent", agent_id="a1", reason="drawdown"),
    ]
    events: list[bytes] = []
    for offset, cmd in enumerate(commands):
        events.extend(
            processor.handle(
                ARENA.encode(), encode_command(cmd), SourceRef(topic="c", partition=partition, offset=offset)
            ).events
        )
    return events


def _ledger() -> tuple[LedgerProcessor, dict[str, object], dict[str, object]]:
    heads: dict[str, object] = {}
    accounts: dict[str, object] = {}
    return LedgerProcessor(LedgerStore(heads, accounts)), heads, accounts


def test_a_healthy_event_stream_raises_no_alert_and_its_rows_rebuild_the_same_book() -> None:
    ledger, heads, accounts = _ledger()
    for offset, raw in enumerate(_event_stream()):
        assert ledger.handle(ARENA.encode(), raw, topic="e", partition=0, offset=offset) == ()
    live = ledger.store.book.arena(ARENA)
    rebuilt = LedgerStore(heads, accounts).ensure_loaded().arena(ARENA)
    assert (rebuilt.balances, rebuilt.agent_tiers, rebuilt.last_seq, rebuilt.last_hash) == (
        live.balances,
        live.agent_tiers,
        live.last_seq,
        live.last_hash,
    )
    assert live.balance("treasury") == 1_000_000 - 7_000 - 5_000 + (5_000 - 1_200)
    assert sum(live.balances.values()) == 0


def test_an_event_that_creates_money_raises_an_alert_naming_it() -> None:
    ledger, *_ = _ledger()
    stream = _event_stream()
    doc = orjson.loads(stream[1])  # ArenaFunded
    doc["postings"][0]["amount"] += 1  # money from nowhere, hash left stale
    stream[1] = orjson.dumps(doc)
    alerts = [
        a
        for offset, raw in enumerate(stream)
        for a in ledger.handle(ARENA.encode(), raw, topic="e", partition=0, offset=offset)
    ]
    checks = {a.check for a in alerts}
    assert Check.HASH_MISMATCH in checks
    assert Check.POSTINGS_MISMATCH_PAYLOAD in checks
    assert {a.event_id for a in alerts if a.check is Check.HASH_MISMATCH} == {doc["event_id"]}


def test_an_unreadable_record_is_an_alert_not_a_silent_skip() -> None:
    ledger, *_ = _ledger()
    alert, verdict = ledger.handle(ARENA.encode(), b"{not json", topic="e", partition=2, offset=17)
    assert alert.check is Check.UNDECODABLE_EVENT
    assert alert.arena_id == ARENA and alert.event_id == "e[2]@17"
    assert verdict.check is Check.ARENA_COMPROMISED and verdict.message.startswith(
        f"arena {ARENA} compromised at e[2]@17"
    )
    (alert,) = ledger.handle(b"\xff bad key", None, topic="e", partition=2, offset=18)
    assert alert.arena_id == "unknown-arena"


def test_a_compromised_arena_stays_quiet_after_the_worker_reloads_its_rows() -> None:
    ledger, heads, accounts = _ledger()
    stream = _event_stream()
    forged = orjson.loads(stream[2])
    forged.update(event_id="forged:0", seq=forged["seq"] + 50)  # far ahead: every later event a duplicate before
    stream.insert(3, orjson.dumps(forged))
    said = [
        a.check
        for offset, raw in enumerate(stream[:5])
        for a in ledger.handle(ARENA.encode(), raw, topic="e", partition=0, offset=offset)
    ]
    assert said == [Check.SEQ_GAP, Check.HASH_CHAIN_BROKEN, Check.HASH_MISMATCH, Check.ARENA_COMPROMISED]
    restarted = LedgerProcessor(LedgerStore(heads, accounts))  # a new worker loads the rows
    rest = [
        a
        for offset, raw in enumerate(stream[5:], start=5)
        for a in restarted.handle(ARENA.encode(), raw, topic="e", partition=0, offset=offset)
    ]
    assert rest == []
    book = restarted.store.book.arena(ARENA)
    assert book.compromise is not None and book.compromise.first_where == "e[0]@3" and not book.compromise.holding
    assert book.last_seq == len(stream) - 1
