"""What the launcher writes for Kafka: cluster ids the storage tool accepts, and a cluster's replication."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.broker.classpath import maven_properties
from streams.broker.cluster_id import encode_cluster_id, new_cluster_id
from streams.broker.errors import BrokerError
from streams.broker.node import NodePaths, format_command
from streams.broker.properties import NodeAddress, log4j2_properties, server_properties
from streams.kafka.replication import min_insync_for

# 0xF8 as the first byte: six leading one-bits, base64 index 62, which URL-safe base64 writes as "-".
_DASH_FIRST = bytes([0xF8]) + bytes(15)


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.strip().splitlines())


def test_an_id_whose_encoding_starts_with_a_dash_is_drawn_again() -> None:
    assert encode_cluster_id(_DASH_FIRST).startswith("-"), "the fixture must reproduce the bug's input"
    draws = iter([_DASH_FIRST, _DASH_FIRST, bytes(range(16))])
    assert new_cluster_id(lambda: next(draws)) == encode_cluster_id(bytes(range(16)))


def test_no_fresh_cluster_id_starts_with_a_dash() -> None:
    """About one random id in 64 did before the fix; 2,000 draws would all but surely have met one."""
    ids = [new_cluster_id() for _ in range(2000)]
    assert not [i for i in ids if i.startswith("-")]
    assert all(len(i) == 22 for i in ids)


def test_the_storage_tool_gets_the_cluster_id_in_one_argument(tmp_path: Path) -> None:
    command = format_command("java", "cp", NodePaths(tmp_path), "-dashFirstIdXXXXXXXXXX")
    assert "--cluster-id=-dashFirstIdXXXXXXXXXX" in command, "an id after '-t' is parsed as an option"


def test_one_node_replicates_once_and_three_nodes_three_times_with_min_isr_two(tmp_path: Path) -> None:
    one = [NodeAddress(1, 9092, 9093)]
    single = _properties(server_properties(data_dir=tmp_path, node=one[0], cluster=one))
    assert single["offsets.topic.replication.factor"] == "1"
    assert single["transaction.state.log.min.isr"] == "1"

    three = [NodeAddress(i, 9000 + i, 9100 + i) for i in (1, 2, 3)]
    node2 = _properties(server_properties(data_dir=tmp_path, node=three[1], cluster=three))
    assert node2["node.id"] == "2"
    assert node2["controller.quorum.voters"] == "1@127.0.0.1:9101,2@127.0.0.1:9102,3@127.0.0.1:9103"
    assert node2["listeners"] == "PLAINTEXT://127.0.0.1:9002,CONTROLLER://127.0.0.1:9102"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "default.replication.factor",
    ):
        assert node2[key] == "3", key
    assert node2["min.insync.replicas"] == "2"
    assert node2["transaction.state.log.min.isr"] == "2"
    assert node2["unclean.leader.election.enable"] == "false"


@pytest.mark.parametrize(("replication", "min_isr"), [(1, 1), (2, 1), (3, 2), (5, 2)])
def test_min_insync_replicas_leaves_one_replica_to_lose(replication: int, min_isr: int) -> None:
    assert min_insync_for(replication) == min_isr


def test_kafka_4_logs_to_the_broker_log_through_log4j2(tmp_path: Path) -> None:
    config = _properties(log4j2_properties(log_file=tmp_path / "broker.log").replace(" = ", "="))
    assert config["appender.file.fileName"] == str(tmp_path / "broker.log")
    assert config["rootLogger.appenderRef.file.ref"] == "file"


def test_a_kafka_version_picks_its_logging_backend() -> None:
    assert maven_properties(None) == []
    assert maven_properties("4.1.2") == ["-Dkafka.version=4.1.2"]
    assert maven_properties("3.9.1") == ["-Dkafka.version=3.9.1", "-Dkafka.logging=reload4j"]
    with pytest.raises(BrokerError, match="KAFKA_VERSION"):
        maven_properties("latest")
