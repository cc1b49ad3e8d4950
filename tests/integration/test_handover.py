"""Partitions changing hands: a second worker taking over, and the broker itself restarting mid-run.

Both are judged like the crash test (tests/chaos/crash_run.py): every command's events exactly once
with contiguous seq, no ledger alert, the audit passing, and the rebuilt and live state equal to the
pure core's expectation.
"""

from __future__ import annotations

import re
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


@pytest.mark.parametrize("lossy_recovery", [False, True], ids=["faithful", "lossy-recovery"])
def test_a_second_worker_joins_then_the_first_stops_and_nothing_is_doubled_or_lost(
    kafka: KafkaCluster, tmp_path: Path, lossy_recovery: bool
) -> None:
    """With `lossy_recovery`, worker B forgets a third of every table partition it recovers (as Faust's
    recovery could, streams/verified_recovery.py): the check against the committed changelog must put
    every row back before B processes anything, so the run is exactly as clean."""
    settings, app_id = _fresh(kafka)
    config = SimulationConfig(
        seed=17, arenas=4, agents_per_arena=16, days=12, evolution_every_days=4, partitions=settings.partitions
    )
    expected = Expectation.of(config)
    commands = list(simulate(config, partitioner=partition_for).commands())
    thirds = len(commands) // 3
    figures = CrashFigures()
    b_env = {"ARENA_CHAOS_RECOVERY_LOSS": "0.34"} if lossy_recovery else {}
    with ExitStack() as first:
        worker_a = first.enter_context(running_worker(settings, app_id, tmp_path, name="worker-a"))
        figures.commands += _publish(settings, commands[:thirds])
        with running_worker(settings, app_id, tmp_path, name="worker-b", env=b_env) as worker_b:
            figures.commands += _publish(settings, commands[thirds : 2 * thirds])
            time.sleep(2)  # let both work on the shared assignment for a moment
            first.close()  # worker A stops (SIGTERM): its partitions move to worker B
            assert not worker_a.alive()
            figures.commands += _publish(settings, commands[2 * thirds :])
            settle_and_judge(settings, app_id, worker_b.alive, expected, figures)
            b_log = worker_b.log_path.read_text(errors="replace")
    repaired = _repaired_rows(b_log)
    kind = "lossy" if lossy_recovery else "faithful"
    print(f"\ntwo workers ({kind} recovery): {figures.line()} rows_repaired={repaired}")
    assert figures.error is None, figures.error
    assert figures.commands == len(commands)
    assert b_log.count("Setting newly assigned partitions") >= 2, "worker B should be assigned twice (join, A's leave)"
    assert "recovery verified:" in b_log
    if lossy_recovery:
        forgotten = sum(int(n) for n in re.findall(r"chaos: forgot (\d+) of", b_log))
        assert forgotten > 0, "the chaos setting should have made worker B forget rows"
        assert repaired == forgotten, f"forgot {forgotten} rows, the check put back {repaired}"
    assert figures.clean, figures.line()


def _repaired_rows(log: str) -> int:
    """Rows the recovery check rewrote, from worker log lines like '...: 3 missing (e.g. ...); 1 extra (...)'."""
    total = 0
    for line in log.splitlines():
        if "did not end at its committed changelog" in line:
            total += sum(int(n) for n in re.findall(r"(\d+) (?:missing|differing|extra) \(e\.g\.", line))
    return total


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
