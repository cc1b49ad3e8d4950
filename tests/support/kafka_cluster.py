"""Which Kafka cluster the integration tests use, chosen the same way the project runs.

- `KAFKA_BOOTSTRAP_SERVERS` set: that cluster (nothing is started or stopped).
- `ARENA_TEST_KAFKA=testcontainers` and a Docker daemon answering: Kafka in a container, KRaft mode
  (tests/support/kafka_container.py; the image is KAFKA_IMAGE below).
- otherwise: the project's local launcher, with its own home under .arena/test-broker so a developer's
  main-job broker is left alone.

The fixture itself is in tests/integration/conftest.py; this is what it and the tests share.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from streams.broker.launcher import BrokerPaths, project_root, requested_kafka_version
from streams.broker.versions import DEFAULT_KAFKA_VERSION
from streams.kafka.settings import Settings

# The image the testcontainers fixture runs: the official one of the release the launcher would resolve,
# unless ARENA_TEST_KAFKA_IMAGE names another that takes the same KAFKA_* variables (container/smoke.sh).
KAFKA_IMAGE = os.environ.get("ARENA_TEST_KAFKA_IMAGE") or (
    f"apache/kafka:{requested_kafka_version() or DEFAULT_KAFKA_VERSION}"
)


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


def docker_answers() -> bool:
    try:
        import docker  # noqa: PLC0415

        docker.from_env().ping()
    except Exception:  # noqa: BLE001 - no daemon, no socket, no permission: all mean "no Docker"
        return False
    return True


def broker_home_paths(name: str = "test-broker") -> BrokerPaths:
    """The test suite's own broker home (or a cluster's, by another name), one per Kafka release asked for."""
    root = project_root()
    version = requested_kafka_version()
    home = root / ".arena" / (name if version is None else f"{name}-{version}")
    return BrokerPaths(home=home, pom=root / "pom.xml")
