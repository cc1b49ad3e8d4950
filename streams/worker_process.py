"""Run `arena worker` as a child process: for the main job, the tests and the benchmarks.

The worker is a separate process, as in production, so a test can kill it with SIGKILL and the main
job's own crash cannot take the worker's transactions with it. Its settings reach it through the
environment, the same interface a user's deployment uses.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streams.broker.launcher import project_root
from streams.config import Settings


def worker_env(settings: Settings, app_id: str, datadir: Path, *, commit_interval_s: float = 0.5) -> dict[str, str]:
    if settings.bootstrap is None:
        raise RuntimeError("resolve the cluster before starting a worker")
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap,
        "ARENA_TOPIC_COMMANDS": settings.topics.commands,
        "ARENA_TOPIC_EVENTS": settings.topics.events,
        "ARENA_TOPIC_ALERTS": settings.topics.alerts,
        "ARENA_TOPIC_DLQ": settings.topics.dlq,
        "ARENA_PARTITIONS": str(settings.partitions),
        "ARENA_APP_ID": app_id,
        "ARENA_WORKER_DATADIR": str(datadir),
        "ARENA_COMMIT_INTERVAL_S": str(commit_interval_s),
    }


@dataclass(frozen=True)
class WorkerHandle:
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, chars: int = 4000) -> str:
        return _tail(self.log_path, chars)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks run, open transactions are left to time out or be fenced."""
        self.process.kill()
        self.process.wait()


@contextmanager
def running_worker(
    settings: Settings, app_id: str, workdir: Path, *, name: str = "worker", env: Mapping[str, str] | None = None
) -> Iterator[WorkerHandle]:
    """Start a worker and wait until it is ready; yields its log path; on exit SIGTERM (SIGKILL after 60 s).

    `env` adds to (or overrides) the worker's environment.
    """
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"],
            cwd=project_root(),
            env={**worker_env(settings, app_id, workdir / f"{name}-data"), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_ready(process, log_path)
            yield WorkerHandle(process, log_path)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(process: subprocess.Popen[bytes], log_path: Path, timeout_s: float = 120.0) -> None:
    """Faust logs "Ready" once its agents run; a worker that dies first fails the test at once, with its log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if "[^Worker]: Ready" in log_path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited with {process.returncode}:\n{_tail(log_path)}")
        time.sleep(0.2)
    raise RuntimeError(f"the worker was not ready after {timeout_s:.0f}s:\n{_tail(log_path)}")


def _tail(log_path: Path, chars: int = 4000) -> str:
    return log_path.read_text(errors="replace")[-chars:]
