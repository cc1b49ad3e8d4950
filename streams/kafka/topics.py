"""The pipeline's topic layout, and creating and describing it on a cluster.

Commands and events are co-partitioned (same count, same key): the command processor writes an
arena's events to the partition number it read the arena's commands from, and its tables' changelogs
follow the same numbering, so an arena's state always moves together with its input.

A worker's table changelog topics are part of the layout too, and exist — servable by the broker, not
only confirmed by the controller — before the worker joins its group. Left to Faust, they are created
as the worker starts; on a busy machine the broker served a new one only after the worker had joined
without it, and the worker rebalanced itself mid-run when it appeared (issue 12).

Replication: every topic the project creates — the pipeline's and the changelogs — gets the same
replication factor and `min.insync.replicas`: by default the cluster's own defaults (the local launcher's
are 1/1 on one node, 3/2 on three), or what ARENA_REPLICATION_FACTOR demands, with min ISR 2 of 3. A
demand the cluster cannot meet (fewer brokers than replicas) is refused by the cluster and reported with
what to do, never quietly lowered: a topic created with fewer replicas than asked would stay
under-replicated for good.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.cimpl import NewTopic

from streams.kafka.clients import new_admin
from streams.kafka.replication import min_insync_for
from streams.kafka.settings import Settings
from streams.store.table_names import ALL_TABLES, changelog_topic

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int | None  # None: the cluster's (see replication_for_cluster)
    purpose: str
    configs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    partitions: int
    replication: int
    configs: Mapping[str, str]


class TopicLayoutError(Exception):
    """A topic exists with a layout the pipeline cannot work with (e.g. broken co-partitioning)."""


def topic_layout(settings: Settings) -> list[TopicSpec]:
    """The topics of DESIGN.md with their retention: the event topic is the source of truth, kept forever."""
    topics = settings.topics
    n, rf = settings.partitions, settings.replication
    return [
        TopicSpec(
            topics.commands,
            n,
            rf,
            "commands from engines, ordered per arena (key = arena id)",
            {"retention.ms": str(7 * DAY_MS), "cleanup.policy": "delete"},
        ),
        TopicSpec(
            topics.events,
            n,
            rf,
            "every decided event incl. rejections; the source of truth",
            {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"},
        ),
        TopicSpec(
            topics.alerts,
            n,
            rf,
            "conservation and integrity alerts from the ledger processor",
            {"retention.ms": str(365 * DAY_MS), "cleanup.policy": "delete"},
        ),
        TopicSpec(
            topics.dlq,
            n,
            rf,
            "undecodable or invalid commands, with reason and source offset",
            {"retention.ms": str(365 * DAY_MS), "cleanup.policy": "delete"},
        ),
    ]


def table_changelog_layout(settings: Settings, app_id: str) -> list[TopicSpec]:
    """The changelog topic of each of the worker's tables: compacted, co-partitioned with the input."""
    return [
        TopicSpec(
            changelog_topic(app_id, table),
            settings.partitions,
            settings.replication,
            f"changelog of the worker's {table} table (app {app_id})",
            {"cleanup.policy": "compact"},
        )
        for table in ALL_TABLES
    ]


def worker_topic_layout(settings: Settings, app_id: str) -> list[TopicSpec]:
    """Every topic a worker of `app_id` reads or writes."""
    return topic_layout(settings) + table_changelog_layout(settings, app_id)


class TopicsNotServed(TimeoutError):
    """Topics the controller confirmed that the broker still cannot serve."""


def wait_until_served(
    settings: Settings, names: Iterable[str], *, partitions: int, timeout_s: float = 60.0, poll_s: float = 0.1
) -> float:
    """Block until the broker's metadata lists every topic with all its partitions led; returns seconds.

    Kafka confirms a new topic once the controller has recorded it; a broker serves it only once its
    own metadata has caught up, 20-200 ms later on a busy machine (issue 12's probe). A consumer that
    joins its group in between is assigned nothing of that topic.
    """
    admin = new_admin(settings)
    wanted = sorted(set(names))
    began = time.monotonic()
    missing = wanted
    while True:
        metadata = admin.list_topics(timeout=max(1.0, timeout_s))
        missing = [name for name in wanted if not _served(metadata.topics.get(name), partitions)]
        if not missing:
            return time.monotonic() - began
        if time.monotonic() - began > timeout_s:
            raise TopicsNotServed(f"the broker does not serve {', '.join(missing)} after {timeout_s:.0f}s")
        time.sleep(poll_s)


def _served(topic: Any, partitions: int) -> bool:  # noqa: ANN401 - confluent-kafka's TopicMetadata
    if topic is None or topic.error is not None or len(topic.partitions) != partitions:
        return False
    return all(p.leader >= 0 and p.error is None for p in topic.partitions.values())


BROKER_DEFAULT = -1  # CreateTopics' "use the cluster's default.replication.factor" (KIP-464)


def replicated(spec: TopicSpec) -> tuple[int, dict[str, str]]:
    """The replication factor and configs `spec` is created with.

    No replication demanded: the cluster's own `default.replication.factor` and `min.insync.replicas`
    (the local launcher sets 1/1 on one node, 3/2 on three), decided by the controller. Counting brokers
    here instead raced with a restarted cluster: its metadata listed one broker for a moment, and a topic
    created then kept one replica for good. A demanded factor is sent as it is, with
    `min.insync.replicas` set on the topic (2 of 3, 1 of 1), so acks=all means that many copies whatever
    the cluster's default is; a cluster with fewer brokers refuses it (see create_topics).
    """
    if spec.replication is None:
        return BROKER_DEFAULT, dict(spec.configs)
    return spec.replication, {"min.insync.replicas": str(min_insync_for(spec.replication)), **spec.configs}


def create_topics(settings: Settings, specs: Iterable[TopicSpec], *, timeout_s: float = 30.0) -> list[str]:
    """Create what is missing; return the names created. Existing topics must match the layout."""
    admin = new_admin(settings)
    wanted = list(specs)
    existing = describe_topics(settings, [spec.name for spec in wanted], admin=admin, timeout_s=timeout_s)
    missing = [spec for spec in wanted if spec.name not in existing]
    for spec in wanted:
        state = existing.get(spec.name)
        if state is not None and state.partitions != spec.partitions:
            raise TopicLayoutError(
                f"topic {spec.name} has {state.partitions} partitions but the layout needs {spec.partitions}; "
                "commands and events must be co-partitioned (set ARENA_PARTITIONS to match, or use new topics)"
            )
    if not missing:
        return []
    new_topics = []
    for spec in missing:
        replication, configs = replicated(spec)
        new_topics.append(
            NewTopic(spec.name, num_partitions=spec.partitions, replication_factor=replication, config=configs)
        )
    futures = admin.create_topics(
        new_topics,
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            reason = getattr(exc.args[0], "name", lambda: "")() if exc.args else ""
            if reason == "TOPIC_ALREADY_EXISTS":
                continue  # another process created it between our look and our create
            if reason == "INVALID_REPLICATION_FACTOR":
                raise TopicLayoutError(
                    f"the cluster refused to create {name}: {exc.args[0].str()} "
                    "Set ARENA_REPLICATION_FACTOR to at most the number of brokers (or unset it to use the "
                    "cluster's default.replication.factor), or add brokers."
                ) from exc
            raise
    return created


def describe_topics(
    settings: Settings,
    names: Iterable[str],
    *,
    admin: AdminClient | None = None,
    timeout_s: float = 30.0,
) -> dict[str, TopicState]:
    """Partition count, replication and the non-default configs of each topic that exists."""
    client = admin or new_admin(settings)
    metadata = client.list_topics(timeout=timeout_s)
    found = [name for name in names if name in metadata.topics and metadata.topics[name].error is None]
    if not found:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in found]
    configs = client.describe_configs(resources, request_timeout=timeout_s)
    result: dict[str, TopicState] = {}
    for resource, future in configs.items():
        entries = future.result()
        topic = metadata.topics[resource.name]
        partitions = topic.partitions
        replication = len(next(iter(partitions.values())).replicas) if partitions else 0
        result[resource.name] = TopicState(
            name=resource.name,
            partitions=len(partitions),
            replication=replication,
            configs={k: str(v.value) for k, v in entries.items() if not v.is_default},
        )
    return result
