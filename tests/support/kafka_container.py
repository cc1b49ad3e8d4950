"""Kafka in a container for the integration tests (`ARENA_TEST_KAFKA=testcontainers`).

The official `apache/kafka` image in KRaft mode, one combined broker+controller, configured through its
KAFKA_* variables with the same single-node settings as the local launcher (streams/broker/properties.py):
replication 1 for the internal topics, transaction log min ISR 1, no initial rebalance delay. Any image
that reads those variables the same way can stand in (`ARENA_TEST_KAFKA_IMAGE`; container/smoke.sh builds
one from the project's Maven-resolved broker where Docker Hub cannot be reached).

testcontainers' own `KafkaContainer` is not used: it drives Confluent's images (its start script runs
/etc/confluent/docker/*) and its `with_kraft()` refuses any tag below Confluent's 7.0.0, so with
`apache/kafka:4.4.0` it never started. Here the broker listens inside the container on the same port
number it is published on, so the address it advertises is the one the tests connect to.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

# Kafka's own log line once the node serves requests (KRaft: "[KafkaRaftServer nodeId=1] Kafka Server started").
STARTED = re.compile(r"Kafka Server started")
CLUSTER_ID = "4L6g3nShT-eMCtK--X86sw"


def kraft_environment(host: str, port: int) -> dict[str, str]:
    """The KAFKA_* variables of a one-node KRaft cluster reached at host:port (also its port inside)."""
    return {
        "CLUSTER_ID": CLUSTER_ID,
        "KAFKA_NODE_ID": "1",
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "KAFKA_CONTROLLER_QUORUM_VOTERS": "1@localhost:9093",
        "KAFKA_LISTENERS": f"PLAINTEXT://:{port},CONTROLLER://localhost:9093",
        "KAFKA_ADVERTISED_LISTENERS": f"PLAINTEXT://{host}:{port}",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "PLAINTEXT",
        "KAFKA_LOG_DIRS": "/tmp/kraft-combined-logs",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS": "10",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_NUM_PARTITIONS": "10",
        "KAFKA_MIN_INSYNC_REPLICAS": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def kafka_container(image: str, *, timeout_s: int = 180) -> Iterator[str]:
    """Start the broker, yield its bootstrap address once it serves requests, remove the container after."""
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415 - only with Docker
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy  # noqa: PLC0415

    container = DockerContainer(image)
    host = container.get_docker_client().host()
    if host == "localhost":
        host = "127.0.0.1"  # what Docker publishes on; "localhost" may resolve to ::1 first
    port = _free_port()
    container.with_bind_ports(port, port)
    container.with_envs(**kraft_environment(host, port))
    container.waiting_for(LogMessageWaitStrategy(STARTED).with_startup_timeout(timeout_s))
    with container:
        yield f"{host}:{port}"
