"""Every topic the project creates is replicated as the cluster allows, or as demanded, never less."""

from __future__ import annotations

import pytest

from streams.config import Settings
from streams.topics import TopicLayoutError, replicated, worker_topic_layout


@pytest.mark.parametrize(("brokers", "replication", "min_isr"), [(1, 1, "1"), (2, 2, "1"), (3, 3, "2"), (5, 3, "2")])
def test_without_a_demand_every_topic_follows_the_cluster_up_to_three_replicas(
    brokers: int, replication: int, min_isr: str
) -> None:
    for spec in worker_topic_layout(Settings.from_env({}), "app"):  # changelogs included
        factor, configs = replicated(spec, brokers)
        assert (factor, configs["min.insync.replicas"]) == (replication, min_isr), spec.name


def test_a_demanded_replication_is_kept_with_its_min_isr() -> None:
    settings = Settings.from_env({"ARENA_REPLICATION_FACTOR": "3"})
    for spec in worker_topic_layout(settings, "app"):
        assert replicated(spec, 5) == (3, {**spec.configs, "min.insync.replicas": "2"})


def test_a_cluster_with_fewer_brokers_than_demanded_replicas_is_refused_with_the_numbers() -> None:
    settings = Settings.from_env({"ARENA_REPLICATION_FACTOR": "3"})
    spec = worker_topic_layout(settings, "app")[0]
    with pytest.raises(TopicLayoutError, match=r"needs replication 3 but the cluster has 1 broker\(s\)"):
        replicated(spec, 1)


def test_the_changelogs_keep_their_compaction_next_to_the_min_isr() -> None:
    changelogs = [s for s in worker_topic_layout(Settings.from_env({}), "app") if "changelog" in s.name]
    assert changelogs
    for spec in changelogs:
        _factor, configs = replicated(spec, 3)
        assert configs == {"cleanup.policy": "compact", "min.insync.replicas": "2"}
