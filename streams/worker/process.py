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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streams.broker.launcher import project_root
from streams.kafka.settings import Settings


def worker_env(settings: Settings, app_id: str, datadir: Path, *, commit_interval_s: float = 0.5) -> dict[str, str]:
    """The child's environment: this process's (PATH and the like), with the settings written over it.

    Child workers commit every 0.5 s by default: the main job and the tests wait for their commits."""
    child = settings.with_worker(app_id=app_id, datadir=datadir, commit_interval_s=commit_interval_s)
    return {**os.environ, **child.to_env()}


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
    settings: Settings,
    app_id: str,
    workdir: Path,
    *,
    name: str = "worker",
    env: Mapping[str, str] | None = None,
    module: str = "streams.cli",
) -> Iterator[WorkerHandle]:
    """Start a worker and wait until it is ready; yields its log path; on exit SIGTERM (SIGKILL after 60 s).

    `env` adds to (or overrides) the worker's environment; `module` is what `python -m` runs (a test may
    wrap the worker to reproduce a fault).
    """
    process, log_path = spawn_worker(settings, app_id, workdir, name=name, env=env, module=module)
    try:
        _wait_until_ready(process, log_path)
        yield WorkerHandle(process, log_path)
    finally:
        terminate_worker(process)


def spawn_worker(
    settings: Settings,
    app_id: str,
    workdir: Path,
    *,
    name: str,
    env: Mapping[str, str] | None = None,
    module: str = "streams.cli",
) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our interpreter and a module of this project
            [sys.executable, "-m", module, *(["worker"] if module == "streams.cli" else []), "--loglevel", "info"],
            cwd=project_root(),
            env={**worker_env(settings, app_id, workdir / f"{name}-data"), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return process, log_path


def terminate_worker(process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """SIGTERM, then SIGKILL if the worker has not stopped after `timeout_s`."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout_s)
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


EXIT_MEANINGS = {
    70: "crashed",
    71: "did not stop in time",
    75: "stalled: work waiting, no progress",
    -9: "killed (SIGKILL)",
    -15: "terminated (SIGTERM)",
}


class WorkerFailed(RuntimeError):
    """The worker could not be kept running; the message is one line, with the log's path."""


class SupervisedWorker:
    """A worker process that is restarted when it exits, a bounded number of times (the main job's supervisor).

    Exactly-once makes a restart safe at any moment: the new process recovers its tables from the
    committed changelog and resumes from the committed offsets. A worker that keeps exiting is not
    restarted for ever: after `max_restarts` the next exit is a `WorkerFailed`.
    """

    def __init__(
        self,
        settings: Settings,
        app_id: str,
        workdir: Path,
        *,
        max_restarts: int = 3,
        say: Callable[[str], None] = lambda _line: None,
        env: Mapping[str, str] | None = None,
        module: str = "streams.cli",
    ) -> None:
        self._settings = settings
        self._app_id = app_id
        self._workdir = workdir
        self._max_restarts = max_restarts
        self._say = say
        self._env = dict(env or {})
        self._module = module
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "worker.log"

    def __enter__(self) -> SupervisedWorker:
        self._start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _start(self) -> None:
        name = f"worker-{self.restarts}" if self.restarts else "worker"
        # One data directory for every incarnation, as a restarted container would have.
        env = {"ARENA_WORKER_DATADIR": str(self._workdir / "worker-data"), **self._env}
        self._process, self.log_path = spawn_worker(
            self._settings, self._app_id, self._workdir, name=name, env=env, module=self._module
        )
        try:
            _wait_until_ready(self._process, self.log_path)
        except RuntimeError:
            code = self._process.poll()
            what = f"exited with code {code}" if code is not None else "was not ready in time"
            raise WorkerFailed(f"the worker {what} before it was ready; log: {self.log_path}") from None

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def ensure_running(self) -> bool:
        """True if the worker runs (restarting it if it exited and restarts are left); False otherwise."""
        if self.alive():
            return True
        assert self._process is not None
        code = self._process.returncode
        what = f"exited with code {code} ({EXIT_MEANINGS.get(code, 'unexpected')}); log: {self.log_path}"
        if self.restarts >= self._max_restarts:
            raise WorkerFailed(f"the worker {what}; not restarted again after {self.restarts} restart(s)")
        self.restarts += 1
        self._say(f"the worker {what}; restarting it ({self.restarts}/{self._max_restarts})")
        self._start()
        return True

    def stop(self, timeout_s: float = 60.0) -> None:
        if self._process is not None:
            terminate_worker(self._process, timeout_s)
