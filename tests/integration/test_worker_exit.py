"""A worker that cannot go on exits non-zero within a bounded time, saying why once; its successor
finishes the work exactly once (issue 12: a fenced worker hung for 12 minutes in Faust's stop)."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topics import create_topics, topic_layout
from streams.worker.process import SupervisedWorker, WorkerFailed, running_worker, spawn_worker, terminate_worker
from tests.support.kafka_cluster import KafkaCluster
from tests.support.verdict import CrashFigures, Expectation, settle_and_judge

pytestmark = pytest.mark.integration

GRACE_S = 5.0


def _fresh(kafka: KafkaCluster) -> tuple[Settings, str]:
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    settings = kafka.settings(prefix)
    create_topics(settings, topic_layout(settings))
    return settings, f"{prefix}app"


def _config(settings: Settings, seed: int) -> SimulationConfig:
    return SimulationConfig(
        seed=seed, arenas=4, agents_per_arena=16, days=10, evolution_every_days=4, partitions=settings.partitions
    )


def _wait_for_exit(process: subprocess.Popen[bytes], timeout_s: float) -> tuple[int | None, float]:
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        code = process.poll()
        if code is not None:
            return code, time.monotonic() - began
        time.sleep(0.1)
    return None, time.monotonic() - began


def _finish_and_judge(settings: Settings, app_id: str, workdir: Path, config: SimulationConfig) -> CrashFigures:
    figures = CrashFigures()
    with running_worker(settings, app_id, workdir, name="successor") as successor:
        settle_and_judge(settings, app_id, successor.alive, Expectation.of(config), figures, timeout_s=240)
    return figures


def test_a_fenced_worker_exits_with_code_70_within_the_grace_period_and_nothing_is_lost(
    kafka: KafkaCluster, tmp_path: Path
) -> None:
    settings, app_id = _fresh(kafka)
    config = _config(settings, seed=31)
    commands = list(simulate(config, partitioner=partition_for).commands())
    env = {"ARENA_EXIT_GRACE_S": str(GRACE_S)}
    process, log = spawn_worker(settings, app_id, tmp_path, name="fenced", env=env)
    try:
        deadline = time.monotonic() + 120
        while "[^Worker]: Ready" not in log.read_text(errors="replace") and time.monotonic() < deadline:
            time.sleep(0.2)
        stop = threading.Event()

        def publish() -> None:
            with CommandPublisher(settings) as publisher:
                # Slowly enough that the worker is still busy when it is fenced: an idle fenced producer
                # learns of the fence only when it next writes.
                for start in range(0, len(commands), 10):
                    if stop.is_set():
                        return
                    publisher.publish_many(commands[start : start + 10])
                    time.sleep(0.2)

        publishing = threading.Thread(target=publish)
        publishing.start()
        time.sleep(3.0)
        # A "zombie's successor": a new producer with the worker's transactional id of partition 0 fences it.
        Producer({**settings.client_config(), "transactional.id": f"{app_id}-0-0"}).init_transactions(30)
        fenced_at = time.monotonic()
        code, seconds = _wait_for_exit(process, timeout_s=60)
        stop.set()
        publishing.join()
    finally:
        terminate_worker(process)
    text = log.read_text(errors="replace")
    print(f"\nfenced worker: exit {code} {time.monotonic() - fenced_at:.1f}s after the fence")
    assert code == 70, text[-4000:]
    assert seconds < 2 * GRACE_S + 10, f"took {seconds:.0f}s"
    assert text.count("worker exiting with code 70") == 1, "one line says why"
    with CommandPublisher(settings) as publisher:
        publisher.publish_many(commands)  # the rest of the run (duplicates are recognised by command id)
    figures = _finish_and_judge(settings, app_id, tmp_path, config)
    assert figures.clean, figures.line()


def test_a_worker_whose_processing_blocks_is_ended_by_the_watchdog_with_code_75(
    kafka: KafkaCluster, tmp_path: Path
) -> None:
    settings, app_id = _fresh(kafka)
    config = _config(settings, seed=32)
    commands = list(simulate(config, partitioner=partition_for).commands())
    with CommandPublisher(settings) as publisher:
        publisher.publish_many(commands)
    env = {"ARENA_STALL_TIMEOUT_S": "6", "ARENA_EXIT_GRACE_S": str(GRACE_S), "ARENA_TEST_STALL_AFTER": "20"}
    process, log = spawn_worker(
        settings, app_id, tmp_path, name="stalling", env=env, module="tests.support.stalling_worker"
    )
    try:
        code, seconds = _wait_for_exit(process, timeout_s=120)
    finally:
        terminate_worker(process)
    text = log.read_text(errors="replace")
    print(f"\nstalled worker: exit {code} after {seconds:.1f}s")
    assert code == 75, text[-4000:]
    assert text.count("worker exiting with code 75 (STALLED)") == 1, text[-4000:]
    figures = _finish_and_judge(settings, app_id, tmp_path, config)
    assert figures.clean, figures.line()


def test_a_supervisor_restarts_a_failing_worker_a_bounded_number_of_times_then_says_why(
    kafka: KafkaCluster, tmp_path: Path
) -> None:
    settings, app_id = _fresh(kafka)
    with CommandPublisher(settings) as publisher:
        publisher.publish_many(list(simulate(_config(settings, seed=33), partitioner=partition_for).commands()))
    said: list[str] = []
    env = {"ARENA_STALL_TIMEOUT_S": "5", "ARENA_EXIT_GRACE_S": "3", "ARENA_TEST_STALL_AFTER": "5"}
    supervised = SupervisedWorker(
        settings, app_id, tmp_path, max_restarts=1, say=said.append, env=env, module="tests.support.stalling_worker"
    )
    with supervised, pytest.raises(WorkerFailed) as failed:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            supervised.ensure_running()
            time.sleep(0.5)
    message = str(failed.value)
    assert "\n" not in message and "code 75" in message and str(supervised.log_path) in message
    assert len(said) == 1 and "restarting it (1/1)" in said[0]
