"""The crash scenario: SIGKILL the worker at random moments while it works, restart it, judge the result."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.worker.process import running_worker
from tests.support.verdict import CrashFigures, Expectation, settle_and_judge


def crash_run(
    settings: Settings,
    *,
    app_id: str,
    workdir: Path,
    config: SimulationConfig,
    kills: int,
    seed: int = 1,
    kill_window_s: tuple[float, float] = (0.5, 3.0),
    say: Callable[[str], None] | None = None,
) -> CrashFigures:
    out = say or (lambda _line: None)
    rng = random.Random(seed)
    began = time.monotonic()
    figures = CrashFigures()
    expected = Expectation.of(config)
    with CommandPublisher(settings) as publisher:
        figures.commands = publisher.publish_many(simulate(config, partitioner=partition_for).commands())

    for incarnation in range(kills):
        with running_worker(settings, app_id, workdir, name=f"worker-{incarnation}") as worker:
            time.sleep(rng.uniform(*kill_window_s))
            if not worker.alive():
                raise RuntimeError(f"the worker died by itself:\n{worker.log_tail()}")
            worker.kill()
            figures.kills += 1
            out(f"kill {figures.kills}/{kills}")
    with running_worker(settings, app_id, workdir, name="worker-final") as worker:
        settle_and_judge(settings, app_id, worker.alive, expected, figures)
    figures.seconds = time.monotonic() - began
    return figures
