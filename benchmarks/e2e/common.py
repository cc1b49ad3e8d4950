"""What every part of the end-to-end benchmark shares: its settings, its error and its progress line."""

from __future__ import annotations

import inspect
import os
import re
import sys
import time
from pathlib import Path
from typing import Final

from streams.worker.process import worker_env

RESULTS: Final = Path(__file__).resolve().parents[1] / "results"
_WORKER_DEFAULT_COMMIT_S: Final[float] = inspect.signature(worker_env).parameters["commit_interval_s"].default
COMMIT_INTERVAL_S: Final[float] = float(os.environ.get("ARENA_BENCH_COMMIT_INTERVAL_S") or _WORKER_DEFAULT_COMMIT_S)
"""The commit interval of the workers and the bare loop: ``running_worker``'s default (``worker_env``, 0.5 s),
or ``ARENA_BENCH_COMMIT_INTERVAL_S`` to measure the latency/throughput trade-off of a shorter one."""
SEED: Final = 11
POLL_S: Final = 0.05
PROGRESS_S: Final = 3.0
TIMEOUT_S: Final = 900.0
STALL_S: Final = 60.0
LATENCY_DRAIN_S: Final = 120.0
SATURATION_BACKLOG_S: Final = 5.0
"""--rate auto: more than this many seconds of offered load published but not readable = saturated."""
MIN_RATE: Final = 25.0
"""No progress (commits or readable records) for this long after ready: the run failed (a crashed worker
may stay alive, e.g. a Faust agent that crashed while the process keeps running)."""
DEFAULT_RATE: Final = 2_000.0
SATURATION_SHARE: Final = 0.5
SCALE_PARTITIONS: Final = (1, 4, 12)
SCALE_WORKERS: Final = (1, 2)
SCALE_AGENTS: Final = (100, 1_000, 10_000)
_FAUST_READY = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \[\d+\] \[INFO\] \[\^Worker\]: Ready", re.M)
_BARE_READY = re.compile(r"^READY (\d+\.\d+)", re.M)
_BARE_COMMIT = re.compile(r"^COMMIT \S+ copied=(\d+) last_copy=(\d+\.\d+)", re.M)


class BenchError(RuntimeError):
    """The benchmark could not measure what it claims (a process died, a count is off, a timeout)."""


_T0: Final = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {text}", file=sys.stderr, flush=True)
