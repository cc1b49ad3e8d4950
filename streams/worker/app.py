"""The Faust worker: the command processor and the ledger processor as two agents of one app.

Thin on purpose: each agent decodes nothing and decides nothing itself. It hands the message to a
processor (streams/processors/command_processor.py, streams/processors/ledger_processor.py), sends what comes back on the
partition it came from, and lets the exactly-once transport (streams/eos/transport.py) put the sends, the
table writes and the consumed offsets into one transaction. A crash at any point aborts that
transaction: the outputs disappear from read_committed readers, the tables recover from their
committed changelog, and the commands are consumed again from the committed offset.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from faust.types import TP, EventT, StreamT, TableT
from faust.types.auth import CredentialsT
from mode.types.signals import BaseSignalT

from streams.eos.broker_probe import BrokerProbe
from streams.eos.recovery import VerifiedTableManager, in_thread, verify_recovery_with
from streams.eos.table import CoPartitionedTable
from streams.eos.transport import SCHEME, gate_of
from streams.kafka.changelog_reader import committed_rows_by_partition
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.processors.command_processor import CommandProcessor
from streams.processors.dead_letter import SourceRef
from streams.processors.ledger_processor import LedgerProcessor, encode_alerts
from streams.store.arena_store import ArenaStore
from streams.store.ledger_store import LedgerStore
from streams.store.row_keys import arena_of_row
from streams.store.table_names import ARENA_AGENTS, ARENA_HEADERS, ARENA_WINDOWS, LEDGER_ACCOUNTS, LEDGER_HEADS

log = logging.getLogger(__name__)

DEFAULT_APP_ID = "arena-ledger"


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    app_id: str = DEFAULT_APP_ID
    datadir: Path = Path(".arena/worker")
    web_port: int | None = None  # None: no web server
    commit_interval_s: float = 1.0
    producer_linger_s: float = 0.02
    # How soon a dead worker's partitions move on: Faust's 60 s default makes every failover a minute.
    session_timeout_s: float = 10.0
    # A worker with committed records waiting and no progress for this long exits (streams/worker/stall_watchdog.py).
    stall_timeout_s: float = 60.0
    # How long a stopping or crashed worker may take before the process ends anyway (streams/eos/fatal_exit.py).
    exit_grace_s: float = 15.0

    @classmethod
    def from_env(cls) -> WorkerOptions:
        port = os.environ.get("ARENA_WEB_PORT")
        return cls(
            app_id=os.environ.get("ARENA_APP_ID", DEFAULT_APP_ID),
            datadir=Path(os.environ.get("ARENA_WORKER_DATADIR", ".arena/worker")),
            web_port=int(port) if port else None,
            commit_interval_s=float(os.environ.get("ARENA_COMMIT_INTERVAL_S", "1.0")),
            producer_linger_s=float(os.environ.get("ARENA_PRODUCER_LINGER_S", "0.02")),
            session_timeout_s=float(os.environ.get("ARENA_SESSION_TIMEOUT_S", "10")),
            stall_timeout_s=float(os.environ.get("ARENA_STALL_TIMEOUT_S", "60")),
            exit_grace_s=float(os.environ.get("ARENA_EXIT_GRACE_S", "15")),
        )


@dataclass
class Worker:
    """The app and what its agents use, so tests and the CLI can reach the counters and stores."""

    app: faust.App
    commands: CommandProcessor
    ledger: LedgerProcessor


def build_worker(settings: Settings, options: WorkerOptions) -> Worker:
    if settings.bootstrap is None:
        raise RuntimeError("resolve the cluster first (streams.broker.cluster.ensure_cluster)")
    n = settings.partitions
    brokers = [f"{SCHEME}://{server.strip()}" for server in settings.bootstrap.split(",")]
    app = faust.App(
        options.app_id,
        broker=brokers,
        broker_credentials=_credentials(settings),
        processing_guarantee="exactly_once",
        store="memory://",
        # Active table partitions are loaded from the committed changelog (streams/eos/recovery.py).
        TableManager=VerifiedTableManager,
        Table=CoPartitionedTable,
        # Standby rows would go unused: the memory store drops them after each recovery, and a promoted
        # partition is loaded from the committed changelog anyway.
        table_standby_replicas=0,
        # A worker whose first metadata lacked the topics (a broker that just started) got an empty
        # assignment and waited for aiokafka's 5-minute metadata refresh to rebalance; 10 s instead.
        consumer_metadata_max_age_ms=10_000,
        datadir=str(options.datadir),
        topic_partitions=n,
        topic_replication_factor=settings.replication,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=options.commit_interval_s,
        # A command becomes ~5 records (events and changelog rows): let them share produce requests.
        producer_linger=options.producer_linger_s,
        broker_session_timeout=options.session_timeout_s,
        broker_heartbeat_interval=max(1.0, options.session_timeout_s / 4),
        web_enabled=options.web_port is not None,
        web_port=options.web_port or 6066,
        web_bind="127.0.0.1",
        # Tables use the app's serializers (JSON rows); every topic below sets raw bytes explicitly.
        key_serializer="json",
        value_serializer="json",
    )
    topics = settings.topics
    commands_in = app.topic(topics.commands, partitions=n, key_serializer="raw", value_serializer="raw")
    events = app.topic(topics.events, partitions=n, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(topics.dlq, partitions=n, key_serializer="raw", value_serializer="raw")
    alerts = app.topic(topics.alerts, partitions=n, key_serializer="raw", value_serializer="raw")

    def table(name: str) -> TableT[str, Any]:
        return app.Table(name, default=None, partitions=n)

    def owns(arena_id: str) -> bool:
        return TP(topics.commands, partition_for(arena_id, n)) in app.consumer.assignment()

    arena_store = ArenaStore(table(ARENA_HEADERS), table(ARENA_AGENTS), table(ARENA_WINDOWS), owns=owns)
    ledger_store = LedgerStore(table(LEDGER_HEADS), table(LEDGER_ACCOUNTS))
    command_processor = CommandProcessor(arena_store, partitions=n)
    ledger_processor = LedgerProcessor(ledger_store)

    verify_recovery_with(
        app,
        in_thread(lambda partitions: committed_rows_by_partition(settings, partitions)),
        partition_of=lambda key: partition_for(arena_of_row(key), n),
        source_topics=frozenset({topics.commands, topics.events}),
    )
    gate = gate_of(app)
    gate.exit.grace_s = options.exit_grace_s
    probe = BrokerProbe(settings.client_config(), options.app_id)
    gate.use_broker(probe.first_record, probe.committed)

    async def process_command(event: EventT[bytes]) -> None:
        message = event.message
        source = SourceRef(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
        )
        handled = command_processor.handle(message.key, message.value, source)
        for value in handled.events:
            await events.send(key=message.key, value=value, partition=message.partition)
        if handled.dead_letter is not None:
            log.warning("dead-lettered %s[%d]@%d", message.topic, message.partition, message.offset)
            await dead_letters.send(key=message.key, value=handled.dead_letter, partition=message.partition)

    async def check_event(event: EventT[bytes]) -> None:
        message = event.message
        found = ledger_processor.handle(
            message.key, message.value, topic=message.topic, partition=message.partition, offset=message.offset
        )
        for alert, value in zip(found, encode_alerts(found), strict=True):
            log.error("ALERT %s %s seq=%s: %s", alert.check.value, alert.arena_id, alert.seq, alert.message)
            await alerts.send(key=alert.arena_id.encode(), value=value, partition=message.partition)

    # Each message is one unit of the processing gate (streams/eos/transport.py): its table rows, its
    # outputs and its ack land in the same transaction, whatever the commit timer does meanwhile.
    @app.agent(commands_in, name="command-processor")
    async def process_commands(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            await gate.run(event, lambda: process_command(event))  # noqa: B023 - awaited before the next event
            yield None

    @app.agent(events, name="ledger-processor")
    async def check_ledger(stream: StreamT[bytes]) -> AsyncIterator[None]:
        async for event in stream.events():
            await gate.run(event, lambda: check_event(event))  # noqa: B023 - awaited before the next event
            yield None

    def forget_decoded_state(sender: object, /, *_args: object, signal: BaseSignalT[Any], **_kw: object) -> None:
        # The decoded caches describe the old assignment; the tables (recovered by Faust) stay the truth.
        del sender, signal
        arena_store.invalidate()
        ledger_store.invalidate()

    app.on_partitions_revoked.connect(forget_decoded_state)
    app.on_partitions_assigned.connect(forget_decoded_state)

    return Worker(app=app, commands=command_processor, ledger=ledger_processor)


def _credentials(settings: Settings) -> CredentialsT | None:
    """Faust's credentials from the same security settings the confluent-kafka clients use."""
    security = dict(settings.security)
    protocol = security.get("security.protocol", "PLAINTEXT").upper()
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol in {"SSL", "SASL_SSL"}:
        context = ssl.create_default_context(cafile=security.get("ssl.ca.location"))
        if security.get("ssl.certificate.location"):
            context.load_cert_chain(
                security["ssl.certificate.location"],
                security.get("ssl.key.location"),
                security.get("ssl.key.password"),
            )
    if protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=security.get("sasl.username"),
            password=security.get("sasl.password"),
            mechanism=security.get("sasl.mechanism", "PLAIN"),
            ssl_context=context,
        )
    return faust.SSLCredentials(context)
