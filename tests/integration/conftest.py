"""One real Kafka broker for the whole integration suite, chosen the same way the project runs.

- `KAFKA_BOOTSTRAP_SERVERS` set: that cluster (nothing is started or stopped).
- `ARENA_TEST_KAFKA=testcontainers` and a Docker daemon answering: Kafka in a container (KRaft) through
  testcontainers, `apache/kafka` of the release asked for, or `ARENA_TEST_KAFKA_IMAGE`
  (tests/support/kafka_container.py). Without Docker Hub, set TESTCONTAINERS_RYUK_DISABLED=true too.
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

import pytest

from streams.broker.launcher import LocalBroker
from streams.kafka.settings import Settings
from streams.kafka.topics import create_topics, topic_layout
from tests.support.kafka_cluster import KAFKA_IMAGE, KafkaCluster, broker_home_paths, docker_answers
from tests.support.kafka_container import kafka_container


@pytest.fixture(scope="session")
def kafka() -> Iterator[KafkaCluster]:
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield KafkaCluster(bootstrap=external, kind="external")
        return
    if os.environ.get("ARENA_TEST_KAFKA") == "testcontainers":
        if not docker_answers():
            pytest.fail(
                "ARENA_TEST_KAFKA=testcontainers but no Docker daemon answers; unset it to use the local broker"
            )
        with kafka_container(KAFKA_IMAGE) as bootstrap:
            yield KafkaCluster(bootstrap=bootstrap, kind="testcontainers")
        return
    broker = LocalBroker(broker_home_paths())
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
