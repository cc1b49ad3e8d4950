"""server.properties and log4j.properties for a single-node KRaft broker on loopback.

One node means replication 1 everywhere, including the internal offsets and transaction-state
topics: with Kafka's defaults (3) transactions would never start on one node. The broker listens on
127.0.0.1 only, so nothing outside this machine can reach it.
"""

from __future__ import annotations

from pathlib import Path


def server_properties(*, data_dir: Path, broker_port: int, controller_port: int) -> str:
    """A combined broker+controller node, tuned for a laptop-sized machine rather than a cluster."""
    settings: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": 1,
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        # One node: every internal topic must be satisfiable by a single replica.
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "min.insync.replicas": 1,
        "default.replication.factor": 1,
        # Fewer internal partitions: the first transaction and the first consumer group start faster.
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.num.partitions": 10,
        # A lone worker joining an empty group should not wait for peers that will never come.
        "group.initial.rebalance.delay.ms": 0,
        # Topics are created on purpose, with the layout in streams/kafka/topics.py; a typo fails loudly.
        "auto.create.topics.enable": "false",
        "num.partitions": 1,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "log.retention.check.interval.ms": 300000,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def log4j_properties(*, log_file: Path) -> str:
    """Log to one file, so that a broker that does not come up leaves something to read."""
    return (
        "log4j.rootLogger=INFO, file\n"
        "log4j.appender.file=org.apache.log4j.RollingFileAppender\n"
        f"log4j.appender.file.File={log_file}\n"
        "log4j.appender.file.MaxFileSize=50MB\n"
        "log4j.appender.file.MaxBackupIndex=2\n"
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
        "log4j.logger.kafka.request.logger=WARN\n"
        "log4j.logger.org.apache.kafka.controller=INFO\n"
        "log4j.logger.state.change.logger=WARN\n"
    )
