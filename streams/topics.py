"""The pipeline's topic layout, and creating and describing it on a cluster.

Commands and events are co-partitioned (same count, same key): the command processor writes an
arena's events to the partition number it read the arena's commands from, and its tables' changelogs
follow the same numbering, so an arena's state always moves together with its input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.cimpl import NewTopic

from streams.config import Settings

DAY_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication: int
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


def create_topics(settings: Settings, specs: Iterable[TopicSpec], *, timeout_s: float = 30.0) -> list[str]:
    """Create what is missing; return the names created. Existing topics must match the layout."""
    admin = AdminClient(settings.client_config())
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
    futures = admin.create_topics(
        [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication,
                config=dict(spec.configs),
            )
            for spec in missing
        ],
        operation_timeout=timeout_s,
        request_timeout=timeout_s,
    )
    created: list[str] = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args and getattr(exc.args[0], "name", lambda: "")() == "TOPIC_ALREADY_EXISTS":
                continue  # another process created it between our look and our create
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
    client = admin or AdminClient(settings.client_config())
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
