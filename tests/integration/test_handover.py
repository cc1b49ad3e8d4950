"""Partitions changing hands: a second worker taking over, and the broker itself restarting mid-run.

Both are judged like the crash test (tests/chaos/crash_run.py): every command's events exactly once
with contiguous seq, no ledger alert, the audit passing, and the rebuilt and live state equal to the
pure core's expectation.
"""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import pytest

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from schemas.commands import Command
from streams.broker.launcher import BrokerPaths, LocalBroker, project_root
from streams.config import Settings
from streams.partitioning import partition_for
from streams.topics import create_topics, topic_layout
from streams.worker_process import running_worker
from tests.chaos.crash_run import CrashFigures, Expectation, settle_and_judge
from tests.integration.conftest import KafkaCluster

pytestmark = pytest.mark.integration


def _fresh(kafka: KafkaCluster) -> tuple[Settings, str]:
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    settings = kafka.settings(prefix)
    create_topics(settings, topic_layout(settings))
    return settings, f"{prefix}app"


def _publish(settings: Settings, commands: list[Command]) -> int:
    with CommandPublisher(settings) as publisher:
        return publisher.publish_many(commands)


def _assignments(log: Path) -> int:
    return log.read_text(errors="replace").count("Setting newly assigned partitions")


HANDOVER_DEFECT = (
    "known defect (issue 6, open): when a worker gains partitions, Faust's table recovery can declare a changelog "
    "partition recovered while records it fetched were dropped on the way (after 2 x 5 s without changelog events "
    "it compares the fetch position with the highwater: 'Aborted tx until highwater'). The promoted worker's tables "
    "are then half-read; the store detects it (rows disagree: 'window entries do not match head/tail'), the worker "
    "stops without committing anything, and the committed topics stay consistent (a restarted worker recovers "
    "fully), but it does stop; when the half-read rows are the ledger's, it raises spurious alerts instead (8 in "
    "one run, events still exact). Fails in about half the runs on this machine, more under load."
)


@pytest.mark.xfail(reason=HANDOVER_DEFECT, strict=False)
def test_a_second_worker_joins_then_the_first_stops_and_nothing_is_doubled_or_lost(
    kafka: KafkaCluster, tmp_path: Path
) -> None:
    settings, app_id = _fresh(kafka)
    config = SimulationConfig(
        seed=17, arenas=4, agents_per_arena=16, days=12, evolution_every_days=4, partitions=settings.partitions
    )
    expected = Expectation.of(config)
    commands = list(simulate(config, partitioner=partition_for).commands())
    thirds = len(commands) // 3
    figures = CrashFigures()
    with ExitStack() as first:
        worker_a = first.enter_context(running_worker(settings, app_id, tmp_path, name="worker-a"))
        figures.commands += _publish(settings, commands[:thirds])
        with running_worker(settings, app_id, tmp_path, name="worker-b") as worker_b:
            figures.commands += _publish(settings, commands[thirds : 2 * thirds])
            time.sleep(2)  # let both work on the shared assignment for a moment
            first.close()  # worker A stops (SIGTERM): its partitions move to worker B
            assert not worker_a.alive()
            figures.commands += _publish(settings, commands[2 * thirds :])
            settle_and_judge(settings, app_id, worker_b.alive, expected, figures)
            b_log = worker_b.log_path
    print(f"\ntwo workers: {figures.line()}")
    assert figures.error is None, figures.error
    assert figures.commands == len(commands)
    assert _assignments(b_log) >= 2, "worker B should have been assigned partitions twice (join, then A's leave)"
    assert figures.clean, figures.line()


def test_the_broker_restarts_mid_run_and_producers_and_the_worker_recover_by_themselves(
    kafka: KafkaCluster, tmp_path: Path
) -> None:
    if kafka.kind != "local":
        pytest.fail("this test restarts the project's own broker; run it without KAFKA_BOOTSTRAP_SERVERS")
    settings, app_id = _fresh(kafka)
    config = SimulationConfig(
        seed=23, arenas=3, agents_per_arena=12, days=10, evolution_every_days=5, partitions=settings.partitions
    )
    expected = Expectation.of(config)
    commands = list(simulate(config, partitioner=partition_for).commands())
    half = len(commands) // 2
    broker = LocalBroker(BrokerPaths(home=project_root() / ".arena" / "test-broker", pom=project_root() / "pom.xml"))
    figures = CrashFigures()
    with running_worker(settings, app_id, tmp_path, name="worker") as worker:
        figures.commands += _publish(settings, commands[:half])
        before = broker.status()
        assert before is not None
        broker.stop()
        time.sleep(3)  # the worker and the producers see the broker gone
        restarted = broker.start()
        assert restarted.info.broker_port == before.broker_port, "clients reconnect to the same address"
        figures.commands += _publish(settings, commands[half:])
        settle_and_judge(settings, app_id, worker.alive, expected, figures, timeout_s=300)
        assert worker.alive(), f"the worker did not survive the broker restart:\n{worker.log_tail()}"
    print(f"\nbroker restart: {figures.line()}")
    assert figures.error is None, figures.error
    assert figures.clean, figures.line()
