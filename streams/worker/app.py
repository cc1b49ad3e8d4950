"""A worker, assembled: one Faust app per processor, each with its tables, stores, exactly-once and agent.

    command app  (`<app id>`)         commands -> events, dead letters; arena tables
    ledger app   (`<app id>-ledger`)  events -> alerts; ledger tables

Each processor is a consumer group of its own, so the command path and the check path can run in
separate processes and scale apart (`arena worker --role commands|ledger`), or together in one process
(`--role all`, the default), where Faust's worker runs both apps on one event loop. Per app:

    app      = new_app(settings, app_id)                   # Faust and its settings (faust_app.py)
    stores   = ArenaStore / LedgerStore over buffered rows  # rows, written once per unit (streams/store/)
    install(app, ...)                                      # the exactly-once layer (streams/eos/)
    add_*_agent(app, ...)                                  # a thin batch loop (agents.py)

and once per process, when ARENA_WEB_PORT is set, `serve_web(...)`: queries, health, metrics and the
dashboard over the roles it runs (web/).

Nothing is decided here: the processors call the pure core, and the exactly-once layer puts each unit's
effects and offsets in one transaction per partition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TP, TableT
from mode.types.signals import BaseSignalT

from streams.eos import faust_private
from streams.eos.broker_probe import BrokerProbe
from streams.eos.fatal_exit import FatalExit
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
    ARENA_WINDOWS,
    LEDGER_ACCOUNTS,
    LEDGER_APP_TABLE_NAMES,
    LEDGER_HEADS,
    changelog_topic,
)
from streams.worker.agents import Changelog, add_command_agent, add_ledger_agent
from streams.worker.faust_app import new_app
from streams.worker.web.install import WebEndpoints, serve_web
from streams.worker.web.served import Served


@dataclass
class Role:
    """One processor's app and what the CLI, the tests and the watchdog reach of it."""

    name: str  # "commands" | "ledger"
    app: faust.App
    exactly_once: ExactlyOnce
    source_topic: str
    processor: CommandProcessor | LedgerProcessor


@dataclass
class Worker:
    """The roles one process runs, the command app first when it runs one."""

    roles: list[Role]
    web: WebEndpoints | None = None  # when ARENA_WEB_PORT is set

    @property
    def apps(self) -> list[faust.App]:
        return [role.app for role in self.roles]

    def role(self, name: str) -> Role | None:
        return next((role for role in self.roles if role.name == name), None)


def build_worker(settings: Settings) -> Worker:
    role = settings.worker.role
    exit_policy = FatalExit(settings.worker.exit_grace_s)  # one process, one exit, whichever app fails
    roles: list[Role] = []
    if role in {"all", "commands"}:
        roles.append(build_command_role(settings, exit_policy))
    if role in {"all", "ledger"}:
        roles.append(build_ledger_role(settings, exit_policy))
    worker = Worker(roles)
    if settings.worker.web_port is not None:
        worker.web = serve_web(settings, [_served(role) for role in roles])
    return worker


def _served(role: Role) -> Served:
    return Served(role.name, role.app, role.exactly_once.gate, role.source_topic, role.processor)


class _Tables:
    """A role's tables: Faust tables (they declare the changelog topics and are what recovery loads),
    whose rows the stores read and write through a `BufferedTable`; the agent sends the changed rows."""

    def __init__(self, app: faust.App, settings: Settings, app_id: str) -> None:
        self._app, self._settings, self._app_id = app, settings, app_id
        self.changelogs: list[Changelog] = []

    def __call__(self, name: str) -> BufferedTable:
        faust_table: TableT[str, Any] = self._app.Table(name, default=None, partitions=self._settings.partitions)
        rows, _placed = faust_private.memory_rows(faust_table)
        changelog = Changelog(BufferedTable(rows), changelog_topic(self._app_id, name))
        self.changelogs.append(changelog)
        return changelog.table


def _install(
    app: faust.App, settings: Settings, app_id: str, source_topic: str, exit_policy: FatalExit
) -> tuple[ExactlyOnce, Callable[[str], int]]:
    n = settings.partitions

    def partition_of(key: str) -> int:
        return partition_for(arena_of_row(key), n)

    probe = BrokerProbe(settings, app_id)
    eos = install(
        app,
        read_changelogs=in_thread(lambda partitions: committed_rows_by_partition(settings, partitions)),
        partition_of=partition_of,
        source_topics=frozenset({source_topic}),
        probe=probe.first_record,
        committed=probe.committed,
        exit_policy=exit_policy,
        trace=settings.worker.eos_trace,
    )
    return eos, partition_of


def _forget_on_rebalance(app: faust.App, invalidate: Callable[[], None]) -> None:
    def forget(sender: object, /, *_args: object, signal: BaseSignalT[Any], **_kw: object) -> None:
        # The decoded caches describe the old assignment; the tables (recovered from their changelogs)
        # stay the truth.
        del sender, signal
        invalidate()

    app.on_partitions_revoked.connect(forget)
    app.on_partitions_assigned.connect(forget)


def build_command_role(settings: Settings, exit_policy: FatalExit) -> Role:
    app_id, topics, n = settings.worker.app_id, settings.topics, settings.partitions
    app = new_app(settings, app_id)
    tables = _Tables(app, settings, app_id)

    def owns(arena_id: str) -> bool:
        return TP(topics.commands, partition_for(arena_id, n)) in app.consumer.assignment()

    store = ArenaStore(tables(ARENA_HEADERS), tables(ARENA_AGENTS), tables(ARENA_WINDOWS), owns=owns)
    processor = CommandProcessor(store, partitions=n)
    eos, partition_of = _install(app, settings, app_id, topics.commands, exit_policy)
    add_command_agent(app, settings, eos.gate, processor, changelogs=tables.changelogs, partition_of=partition_of)
    _forget_on_rebalance(app, store.invalidate)
    return Role("commands", app, eos, topics.commands, processor)


def build_ledger_role(settings: Settings, exit_policy: FatalExit) -> Role:
    app_id, topics = settings.worker.ledger_app_id, settings.topics
    app = new_app(settings, app_id)
    tables = _Tables(app, settings, app_id)
    store = LedgerStore(tables(LEDGER_APP_TABLE_NAMES[LEDGER_HEADS]), tables(LEDGER_APP_TABLE_NAMES[LEDGER_ACCOUNTS]))
    processor = LedgerProcessor(store)
    eos, partition_of = _install(app, settings, app_id, topics.events, exit_policy)
    add_ledger_agent(app, settings, eos.gate, processor, changelogs=tables.changelogs, partition_of=partition_of)
    _forget_on_rebalance(app, store.invalidate)
    return Role("ledger", app, eos, topics.events, processor)
