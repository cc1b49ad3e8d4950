"""Every topic the project creates is replicated as the cluster's defaults say, or as demanded, never less."""

from __future__ import annotations

import pytest

from streams.kafka.settings import Settings
from streams.kafka.topics import BROKER_DEFAULT, replicated, worker_topic_layout


def test_without_a_demand_every_topic_takes_the_cluster_defaults() -> None:
    """The controller applies default.replication.factor and min.insync.replicas; nothing counts brokers
    on the client side (a restarted cluster listed one broker for a moment, and a topic created then
    would have kept one replica for good)."""
    for spec in worker_topic_layout(Settings.from_env({}), "app"):  # changelogs included
        factor, configs = replicated(spec)
        assert factor == BROKER_DEFAULT, spec.name
        assert "min.insync.replicas" not in configs, spec.name


@pytest.mark.parametrize(("replication", "min_isr"), [(1, "1"), (2, "1"), (3, "2"), (5, "2")])
def test_a_demanded_replication_is_kept_with_its_min_isr(replication: int, min_isr: str) -> None:
    settings = Settings.from_env({"ARENA_REPLICATION_FACTOR": str(replication)})
    for spec in worker_topic_layout(settings, "app"):
        assert replicated(spec) == (replication, {**spec.configs, "min.insync.replicas": min_isr})


def test_the_changelogs_keep_their_compaction_next_to_the_min_isr() -> None:
    settings = Settings.from_env({"ARENA_REPLICATION_FACTOR": "3"})
    changelogs = [s for s in worker_topic_layout(settings, "app") if "changelog" in s.name]
    assert changelogs
    for spec in changelogs:
        assert replicated(spec) == (3, {"min.insync.replicas": "2", "cleanup.policy": "compact"})
