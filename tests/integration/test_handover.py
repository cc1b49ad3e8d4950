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
from streams.broker.launcher import LocalBroker
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topics import create_topics, topic_layout
from streams.worker.process import running_worker
from tests.support.kafka_cluster import KafkaCluster, broker_home_paths
from tests.support.verdict import CrashFigures, Expectation, settle_and_judge

pytestmark = pytest.mark.integration


def _fresh(kafka: KafkaCluster) -> tuple[Settings, str]:
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    settings = kafka.settings(prefix)
    create_topics(settings, topic_layout(settings))
    return settings, f"{prefix}app"


def _publish(settings: Settings, commands: list[Command]) -> int:
    with CommandPublisher(settings) as publisher:
        return publisher.publish_many(commands)


@pytest.mark.parametrize("leaver", ["first", "second"], ids=["first-stops", "second-stops"])
def test_a_second_worker_joins_then_one_stops_and_nothing_is_doubled_or_lost(
    kafka: KafkaCluster, tmp_path: Path, leaver: str
) -> None:
    """When the second worker is the one to stop, the first gets back partitions it owned before, which
    the second has changed meanwhile (rows rewritten, window entries deleted): what the first still
    holds of them is stale and must be replaced by the committed changelog (streams/verified_recovery.py)."""
    settings, app_id = _fresh(kafka)
    config = SimulationConfig(
        seed=17, arenas=4, agents_per_arena=16, days=12, evolution_every_days=4, partitions=settings.partitions
    )
    expected = Expectation.of(config)
    commands = list(simulate(config, partitioner=partition_for).commands())
    thirds = len(commands) // 3
    figures = CrashFigures()
    with ExitStack() as a_stack:
        worker_a = a_stack.enter_context(running_worker(settings, app_id, tmp_path, name="worker-a"))
        figures.commands += _publish(settings, commands[:thirds])
        with ExitStack() as b_stack:
            worker_b = b_stack.enter_context(running_worker(settings, app_id, tmp_path, name="worker-b"))
            figures.commands += _publish(settings, commands[thirds : 2 * thirds])
            time.sleep(2)  # let both work on the shared assignment for a moment
            if leaver == "first":
                stack, leaving, staying = a_stack, worker_a, worker_b
            else:
                stack, leaving, staying = b_stack, worker_b, worker_a
            stack.close()  # SIGTERM: its partitions move to the worker that stays
            assert not leaving.alive()
            figures.commands += _publish(settings, commands[2 * thirds :])
            settle_and_judge(settings, app_id, staying.alive, expected, figures)
            log = staying.log_path.read_text(errors="replace")
    print(f"\ntwo workers, the {leaver} stops: {figures.line()}")
    assert figures.error is None, figures.error
    assert figures.commands == len(commands)
    assert log.count("Setting newly assigned partitions") >= 2, "the staying worker should be assigned twice"
    assert "loaded from the committed changelog" in log
    if leaver == "second":
        assert "replaced rows left from an earlier ownership" in log, "worker A should have held stale rows"
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
    broker = LocalBroker(broker_home_paths())
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
