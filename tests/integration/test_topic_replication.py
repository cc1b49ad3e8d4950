"""What `arena topics create` does about replication on a real cluster (here the suite's one broker)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from streams.cli import main
from streams.kafka.topics import (
    TopicLayoutError,
    create_topics,
    describe_topics,
    wait_until_served,
    worker_topic_layout,
)
from tests.support.kafka_cluster import KafkaCluster

pytestmark = pytest.mark.integration


def test_a_replication_the_cluster_cannot_meet_is_refused_not_lowered(kafka: KafkaCluster, prefix: str) -> None:
    if kafka.kind != "local":
        pytest.skip("needs the one-broker local cluster")
    settings = replace(kafka.settings(prefix), replication=3)
    layout = worker_topic_layout(settings, f"{prefix}app")
    with pytest.raises(TopicLayoutError, match="ARENA_REPLICATION_FACTOR") as refused:
        create_topics(settings, layout)
    assert "replication factor" in str(refused.value).lower(), "the cluster's own reason is passed on"
    assert describe_topics(settings, [spec.name for spec in layout]) == {}, "nothing is created with fewer replicas"


def test_the_cli_says_so_in_one_line_with_exit_code_2(
    kafka: KafkaCluster, prefix: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if kafka.kind != "local":
        pytest.skip("needs the one-broker local cluster")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka.bootstrap)
    monkeypatch.setenv("ARENA_REPLICATION_FACTOR", "3")
    for name in ("COMMANDS", "EVENTS", "ALERTS", "DLQ"):
        monkeypatch.setenv(f"ARENA_TOPIC_{name}", f"{prefix}{name.lower()}")
    assert main(["topics", "create", "--app-id", f"{prefix}app"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("arena: the cluster refused to create"), err


def test_without_a_demand_topics_take_the_cluster_defaults(kafka: KafkaCluster, prefix: str) -> None:
    settings = kafka.settings(prefix)
    layout = worker_topic_layout(settings, f"{prefix}app")
    create_topics(settings, layout)
    wait_until_served(settings, [spec.name for spec in layout], partitions=settings.partitions)
    states = describe_topics(settings, [spec.name for spec in layout])
    assert len(states) == len(layout)
    expected = 1 if kafka.kind == "local" else None  # the suite's local broker is one node
    for state in states.values():
        assert expected is None or state.replication == expected, state
