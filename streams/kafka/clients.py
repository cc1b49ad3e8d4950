"""Every Kafka client the project builds outside the Faust worker comes from here.

One place says what all of them share: the cluster address and security from `Settings`, and the
defaults that make them safe for this pipeline — consumers read committed records only, never commit
offsets and never create topics; producers wait for every in-sync replica and are idempotent; clients
carry the name of what they are for, so a broker's logs and metrics say who connected.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from streams.kafka.partitioning import PRODUCER_PARTITIONER
from streams.kafka.settings import Settings


def new_consumer(
    settings: Settings, purpose: str, *, group_id: str | None = None, overrides: Mapping[str, Any] | None = None
) -> Consumer:
    """A consumer that reads committed records and commits nothing.

    `group_id` is the group whose committed offsets it may look up (never changes them); without one it
    gets a throw-away id, which librdkafka requires even for assigned partitions.
    """
    config: dict[str, Any] = {
        "client.id": f"arena-{purpose}",
        "group.id": group_id or f"arena-{purpose}-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "allow.auto.create.topics": False,
        **(overrides or {}),
    }
    return Consumer(settings.client_config(config))


def new_producer(settings: Settings, purpose: str, *, overrides: Mapping[str, Any] | None = None) -> Producer:
    """An idempotent producer that waits for all in-sync replicas and keys by Kafka's own partitioner."""
    config: dict[str, Any] = {
        "client.id": f"arena-{purpose}",
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": PRODUCER_PARTITIONER,
        **(overrides or {}),
    }
    return Producer(settings.client_config(config))


def new_admin(settings: Settings, purpose: str = "admin", *, overrides: Mapping[str, Any] | None = None) -> AdminClient:
    return AdminClient(settings.client_config({"client.id": f"arena-{purpose}", **(overrides or {})}))
