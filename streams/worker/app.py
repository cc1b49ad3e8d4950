"""A worker, assembled: the Faust app, its tables and stores, the processors, exactly-once, the agents.

    app      = new_app(settings)                          # Faust and its settings (faust_app.py)
    stores   = ArenaStore / LedgerStore over Faust tables # rows, not whole arenas (streams/store/)
    install(app, ...)                                     # the exactly-once layer (streams/eos/)
    add_agents(app, ..., command and ledger processors)   # thin loops (agents.py)

Nothing is decided here: the processors call the pure core, and the exactly-once layer puts each
message's effects and offset in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP, TableT
from mode.types.signals import BaseSignalT

from streams.eos import faust_private
from streams.eos.broker_probe import BrokerProbe
from streams.eos.install import ExactlyOnce, in_thread, install
from streams.kafka.changelog_reader import committed_rows_by_partition
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.processors.command_processor import CommandProcessor
from streams.processors.ledger_processor import LedgerProcessor
from streams.store.arena_store import ArenaStore
from streams.store.buffered_table import BufferedTable
from streams.store.ledger_store import LedgerStore
from streams.store.row_keys import arena_of_row
from streams.store.table_names import (
    ARENA_AGENTS,
    ARENA_HEADERS,
    ARENA_TABLES,
    ARENA_WINDOWS,
    LEDGER_ACCOUNTS,
    LEDGER_HEADS,
    LEDGER_TABLES,
    changelog_topic,
)
from streams.worker.agents import Changelog, add_command_agent, add_ledger_agent
from streams.worker.faust_app import new_app


@dataclass
class Worker:
    """The app and what its agents use, so tests and the CLI can reach the counters and stores."""

    app: faust.App
    commands: CommandProcessor
    ledger: LedgerProcessor
    exactly_once: ExactlyOnce


def build_worker(settings: Settings) -> Worker:
    app = new_app(settings)
    n, topics = settings.partitions, settings.topics

    changelogs: dict[str, Changelog] = {}

    def table(name: str) -> BufferedTable:
        # The stores read and write the rows of Faust's memory store directly, and the agents send each
        # changed row once per unit (streams/worker/agents.py); the Faust table declares the changelog
        # topic and is what recovery loads (streams/eos/recovery.py).
        faust_table: TableT[str, Any] = app.Table(name, default=None, partitions=n)
        rows, _placed = faust_private.memory_rows(faust_table)
        changelogs[name] = Changelog(BufferedTable(rows), changelog_topic(settings.worker.app_id, name))
        return changelogs[name].table

    def owns(arena_id: str) -> bool:
        return TP(topics.commands, partition_for(arena_id, n)) in app.consumer.assignment()

    arena_store = ArenaStore(table(ARENA_HEADERS), table(ARENA_AGENTS), table(ARENA_WINDOWS), owns=owns)
    ledger_store = LedgerStore(table(LEDGER_HEADS), table(LEDGER_ACCOUNTS))
    commands, ledger = CommandProcessor(arena_store, partitions=n), LedgerProcessor(ledger_store)

    def partition_of(key: str) -> int:
        return partition_for(arena_of_row(key), n)

    probe = BrokerProbe(settings, settings.worker.app_id)
    eos = install(
        app,
        read_changelogs=in_thread(lambda partitions: committed_rows_by_partition(settings, partitions)),
        partition_of=partition_of,
        source_topics=frozenset({topics.commands, topics.events}),
        probe=probe.first_record,
        committed=probe.committed,
        exit_grace_s=settings.worker.exit_grace_s,
        trace=settings.worker.eos_trace,
    )
    arena_changelogs = [changelogs[name] for name in ARENA_TABLES]
    ledger_changelogs = [changelogs[name] for name in LEDGER_TABLES]
    add_command_agent(app, settings, eos.gate, commands, changelogs=arena_changelogs, partition_of=partition_of)
    add_ledger_agent(app, settings, eos.gate, ledger, changelogs=ledger_changelogs, partition_of=partition_of)

    def forget_decoded_state(sender: object, /, *_args: object, signal: BaseSignalT[Any], **_kw: object) -> None:
        # The decoded caches describe the old assignment; the tables (recovered from their changelogs)
        # stay the truth.
        del sender, signal
        arena_store.invalidate()
        ledger_store.invalidate()

    app.on_partitions_revoked.connect(forget_decoded_state)
    app.on_partitions_assigned.connect(forget_decoded_state)
    return Worker(app=app, commands=commands, ledger=ledger, exactly_once=eos)
