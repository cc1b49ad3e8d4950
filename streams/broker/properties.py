"""server.properties and the logging configuration of the local KRaft nodes on loopback.

One node means replication 1 everywhere, including the internal offsets and transaction-state
topics: with Kafka's defaults (3) transactions would never start on one node. Three nodes are laid out
like a small production cluster: replication 3 and `min.insync.replicas=2` for every topic, the
internal ones included, so one node may die without stopping writes and no acknowledged write lives
on one disk only. The nodes listen on 127.0.0.1 only, so nothing outside this machine can reach them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.kafka.replication import min_insync_for

# Replication never above 3: three copies survive one failure with min ISR 2, which is what the
# failover tests exercise and what most production clusters run.
MAX_REPLICATION = 3


@dataclass(frozen=True, slots=True)
class NodeAddress:
    node_id: int
    broker_port: int
    controller_port: int


def replication_for(nodes: int) -> int:
    """The replication factor a cluster of `nodes` nodes gives every topic: 1 alone, 3 in a cluster."""
    return min(MAX_REPLICATION, nodes)


def quorum_voters(addresses: Sequence[NodeAddress]) -> str:
    return ",".join(f"{a.node_id}@127.0.0.1:{a.controller_port}" for a in addresses)


def server_properties(*, data_dir: Path, node: NodeAddress, cluster: Sequence[NodeAddress]) -> str:
    """One combined broker+controller node of `cluster`, tuned for a laptop-sized machine.

    Every node is both broker and controller: three nodes make a controller quorum of three, the
    layout of small production KRaft clusters, at the cost of three JVMs instead of six.
    """
    replication = replication_for(len(cluster))
    min_isr = min_insync_for(replication)
    settings: dict[str, str | int] = {
        "process.roles": "broker,controller",
        "node.id": node.node_id,
        "controller.quorum.voters": quorum_voters(cluster),
        "listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port},CONTROLLER://127.0.0.1:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.broker_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        # The internal topics (consumer offsets, transaction state) and every topic created without an
        # explicit layout get the cluster's replication; a write needs min_isr copies to be accepted.
        "offsets.topic.replication.factor": replication,
        "transaction.state.log.replication.factor": replication,
        "transaction.state.log.min.isr": min_isr,
        "min.insync.replicas": min_isr,
        "default.replication.factor": replication,
        # A replica that lost its copy never becomes leader: an acknowledged write is never dropped.
        "unclean.leader.election.enable": "false",
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
    """Kafka 3.x (log4j 1 via reload4j): log to one file, so a node that does not come up leaves something to read."""
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


def log4j2_properties(*, log_file: Path) -> str:
    """Kafka 4.x (log4j2): the same file, rolling and levels as the 3.x configuration.

    Without it log4j2 prints "No configuration found" and logs errors only, to the console.
    """
    return (
        "status = warn\n"
        "name = arena-local-kafka\n"
        "appender.file.type = RollingFile\n"
        "appender.file.name = file\n"
        f"appender.file.fileName = {log_file}\n"
        f"appender.file.filePattern = {log_file}.%i\n"
        "appender.file.layout.type = PatternLayout\n"
        "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        "appender.file.policies.type = Policies\n"
        "appender.file.policies.size.type = SizeBasedTriggeringPolicy\n"
        "appender.file.policies.size.size = 50MB\n"
        "appender.file.strategy.type = DefaultRolloverStrategy\n"
        "appender.file.strategy.max = 2\n"
        "rootLogger.level = info\n"
        "rootLogger.appenderRef.file.ref = file\n"
        "logger.request.name = kafka.request.logger\n"
        "logger.request.level = warn\n"
        "logger.controller.name = org.apache.kafka.controller\n"
        "logger.controller.level = info\n"
        "logger.statechange.name = state.change.logger\n"
        "logger.statechange.level = warn\n"
    )
