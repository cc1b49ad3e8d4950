"""One real Kafka broker for the whole integration suite, chosen the same way the project runs.

- `KAFKA_BOOTSTRAP_SERVERS` set: that cluster (nothing is started or stopped).
- `ARENA_TEST_KAFKA=testcontainers` and a Docker daemon answering: testcontainers' Kafka (KRaft).
- otherwise: the project's local launcher, with its own home under .arena/test-broker so a developer's
  main-job broker is left alone; started once per test session, stopped after it if we started it.

Every test gets its own topic names (a random prefix), so tests cannot see each other's data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest

from streams.broker.launcher import BrokerPaths, LocalBroker, project_root
from streams.kafka.settings import Settings
from streams.kafka.topics import create_topics, topic_layout


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

        with KafkaContainer("apache/kafka:3.9.1").with_kraft() as container:
            yield KafkaCluster(bootstrap=container.get_bootstrap_server(), kind="testcontainers")
        return
    root = project_root()
    paths = BrokerPaths(home=root / ".arena" / "test-broker", pom=root / "pom.xml")
    broker = LocalBroker(paths)
    already = broker.status()
    result = broker.start()
    try:
        yield KafkaCluster(bootstrap=result.info.bootstrap, kind="local")
    finally:
        if already is None:
            broker.stop()


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
