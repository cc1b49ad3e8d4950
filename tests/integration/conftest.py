"""One real Kafka broker for the whole integration suite, chosen the same way the project runs.

- `KAFKA_BOOTSTRAP_SERVERS` set: that cluster (nothing is started or stopped).
- `ARENA_TEST_KAFKA=testcontainers` and a Docker daemon answering: testcontainers' Kafka (KRaft).
- otherwise: the project's local launcher, with its own home under .arena/test-broker so a developer's
  main-job broker is left alone; started once per test session, stopped after it if we started it.
  `KAFKA_VERSION` (e.g. 3.9.1) runs the suite on another Kafka release, in a home of its own
  (.arena/test-broker-3.9.1): storage written by a newer release cannot be read by an older one.

Every test gets its own topic names (a random prefix), so tests cannot see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from streams.broker.launcher import BrokerPaths, LocalBroker, project_root, requested_kafka_version
from streams.broker.versions import DEFAULT_KAFKA_VERSION
from streams.config import Settings
from streams.topics import create_topics, topic_layout

# The image the testcontainers fixture runs: the release the launcher would resolve.
KAFKA_IMAGE = f"apache/kafka:{requested_kafka_version() or DEFAULT_KAFKA_VERSION}"


@dataclass(frozen=True)
class KafkaCluster:
    bootstrap: str
    kind: str  # "external" | "testcontainers" | "local"

    def settings(self, prefix: str, *, partitions: int = 4) -> Settings:
        base = Settings.from_env()
        return replace(
            base.with_bootstrap(self.bootstrap),
            topics=base.topics.with_prefix(prefix),
            partitions=partitions,
        )


def _docker_answers() -> bool:
    try:
        import docker  # noqa: PLC0415

        docker.from_env().ping()
    except Exception:  # noqa: BLE001 - no daemon, no socket, no permission: all mean "no Docker"
        return False
    return True


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaCluster]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield KafkaCluster(bootstrap=external, kind="external")
        return
    if os.environ.get("ARENA_TEST_KAFKA") == "testcontainers":
        if not _docker_answers():
            pytest.fail(
                "ARENA_TEST_KAFKA=testcontainers but no Docker daemon answers; unset it to use the local broker"
            )
        from testcontainers.kafka import KafkaContainer  # noqa: PLC0415

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
            yield KafkaCluster(bootstrap=container.get_bootstrap_server(), kind="testcontainers")
        return
    broker = LocalBroker(broker_home_paths())
    already = broker.status()
    result = broker.start()
    try:
        yield KafkaCluster(bootstrap=result.info.bootstrap, kind="local")
    finally:
        if already is None:
            broker.stop()


def broker_home_paths(name: str = "test-broker") -> BrokerPaths:
    """The test suite's own broker home (or a cluster's, by another name), one per Kafka release asked for."""
    root = project_root()
    version = requested_kafka_version()
    home = root / ".arena" / (name if version is None else f"{name}-{version}")
    return BrokerPaths(home=home, pom=root / "pom.xml")


@pytest.fixture
def prefix() -> str:
    """A fresh namespace for one test's topics and consumer groups."""
    return f"t{uuid.uuid4().hex[:10]}-"


@pytest.fixture
def settings(kafka: KafkaCluster, prefix: str) -> Settings:
    """Pipeline settings for this test, with the pipeline's topics created under its prefix."""
    configured = kafka.settings(prefix)
    create_topics(configured, topic_layout(configured))
    return configured
