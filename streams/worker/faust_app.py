"""The Faust app of a worker, with every Faust setting the pipeline depends on and why.

Only configuration lives here; the tables and agents are added by streams/worker/app.py and
streams/worker/agents.py.
"""

from __future__ import annotations

import os
import socket
import ssl

import faust
from faust.types.auth import CredentialsT

from streams.eos.install import SCHEME
from streams.eos.recovery import VerifiedTableManager
from streams.eos.table import CoPartitionedTable
from streams.kafka.settings import Settings


def new_app(settings: Settings, app_id: str) -> faust.App:
    """A Faust app of the worker: the command processor's (`app_id` = the worker's) or the ledger's.

    Each app is its own consumer group with its own transactions; one process may run both (role "all"),
    and both advertise the process's web address to their group."""
    if settings.bootstrap is None:
        raise RuntimeError("resolve the cluster first (streams.broker.cluster.ensure_cluster)")
    worker = settings.worker
    brokers = [f"{SCHEME}://{server.strip()}" for server in settings.bootstrap.split(",")]
    datadir = worker.datadir if app_id == worker.app_id else worker.datadir / app_id.removeprefix(f"{worker.app_id}-")
    datadir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return faust.App(
        app_id,
        broker=brokers,
        broker_credentials=_credentials(settings),
        processing_guarantee="exactly_once",
        store="memory://",
        # Restarted table partitions are loaded from the committed changelog (streams/eos/recovery.py).
        TableManager=VerifiedTableManager,
        Table=CoPartitionedTable,
        # Standby rows would go unused: the memory store drops them after each recovery, and a promoted
        # partition is loaded from the committed changelog anyway.
        table_standby_replicas=0,
        # A worker whose first metadata lacked the topics (a broker that just started) got an empty
        # assignment and waited for aiokafka's 5-minute metadata refresh to rebalance; 10 s instead.
        consumer_metadata_max_age_ms=10_000,
        datadir=str(datadir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=worker.commit_interval_s,
        # A command becomes ~5 records (events and changelog rows): let them share produce requests.
        producer_linger=worker.producer_linger_s,
        # A unit sends its records as ready-made batches (streams/eos/batch_sender.py): let one batch hold
        # many records (aiokafka's limit per record batch; a record batch is never split).
        producer_max_batch_size=512 * 1024,
        broker_session_timeout=worker.session_timeout_s,
        broker_heartbeat_interval=max(1.0, worker.session_timeout_s / 4),
        # Faust's own web server stays off: the worker's endpoints are streams/worker/web/. Its address is
        # still what Faust's assignor advertises to the group, which is how queries are routed.
        web_enabled=False,
        web_port=worker.web_port or 6066,
        web_bind=worker.web_bind,
        canonical_url=worker.advertised_web_url() if worker.web_port is not None else None,
        # Named after the process, so `arena lag` can say which worker holds which partition.
        broker_client_id=f"arena-worker-{socket.gethostname()}-{os.getpid()}",
        # Tables use the app's serializers (JSON rows); every topic sets raw bytes explicitly.
        key_serializer="json",
        value_serializer="json",
    )


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
