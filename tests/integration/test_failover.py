"""Failover on a real three-node cluster: a partition leader, a transaction coordinator, two nodes at once.

Each runs the worker (supervised) through a `kill -9` of the node(s) holding the role and their restart,
and is judged like the crash test: every command's events exactly once, contiguous seq, no alert, the
audit clean, the rebuilt and live state equal to the pure core's (tests/chaos/failover.py). The cluster
(three combined broker+controller nodes: a quorum of three, replication 3, min ISR 2) is started once
for this module under .arena/test-cluster and stopped after it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker.launcher import LocalBroker
from tests.chaos.failover import FailoverFigures, cluster_settings, run_scenario
from tests.support.kafka_cluster import KafkaCluster, broker_home_paths

pytestmark = pytest.mark.integration

_SEED = int(os.environ.get("ARENA_FAILOVER_SEED", "11"))


@pytest.fixture(scope="module")
def three_nodes(kafka: KafkaCluster) -> Iterator[LocalBroker]:
    if kafka.kind != "local":
        pytest.skip("the failover tests kill nodes of the project's own three-node cluster")
    cluster = LocalBroker(broker_home_paths("test-cluster"))
    already = cluster.status()
    cluster.start(nodes=3)
    try:
        yield cluster
    finally:
        if already is None:
            cluster.stop()


def _assert_clean(figures: FailoverFigures) -> None:
    print(f"\n{figures.line()}\n  replication (RF/min ISR): {figures.replication}")
    judged = figures.judged
    assert judged.error is None, judged.error
    assert judged.duplicates == 0 and judged.missing == 0, figures.line()
    assert judged.events == judged.expected_events, figures.line()
    assert judged.seq_gaps == 0 and judged.alerts == 0, figures.line()
    assert judged.audit_problems == [], judged.audit_problems
    assert judged.state_mismatches == [], "the state rebuilt from the topic differs from the pure core's"
    assert judged.live_differences == [], judged.live_differences
    assert figures.recovery_s is not None, "the worker never committed again after the fault"
    assert set(figures.replication.values()) == {"3/2"}, figures.replication


def test_killing_the_leader_of_an_event_partition_mid_run_loses_and_doubles_nothing(
    three_nodes: LocalBroker, tmp_path: Path
) -> None:
    figures = run_scenario("leader", three_nodes, cluster_settings(three_nodes), tmp_path, seed=_SEED, down_s=15)
    _assert_clean(figures)


def test_killing_the_transaction_coordinator_of_the_worker_loses_and_doubles_nothing(
    three_nodes: LocalBroker, tmp_path: Path
) -> None:
    figures = run_scenario("coordinator", three_nodes, cluster_settings(three_nodes), tmp_path, seed=_SEED, down_s=15)
    assert any("transactional ids" in r and "coordinates 0/" not in r for r in figures.roles_of_killed)
    _assert_clean(figures)


def test_two_nodes_down_accept_no_write_and_everything_resumes_when_one_returns(
    three_nodes: LocalBroker, tmp_path: Path
) -> None:
    figures = run_scenario("two-down", three_nodes, cluster_settings(three_nodes), tmp_path, seed=_SEED, down_s=25)
    assert figures.probe_writes > 0
    assert figures.probe_accepted == 0, "a write was acknowledged with one node of three up (min ISR 2)"
    _assert_clean(figures)
