"""A worker that cannot go on says why in one line and exits non-zero within a bounded time.

Issue 12: after a fenced producer crashed Faust's producer buffer, the worker logged "Stopping... Wait for
streams..." and then sat there for 12 minutes, alive and doing nothing: Faust's stop waits for every
delivered message to be acknowledged, and the agents that would acknowledge them were gone. A supervisor
(the main job, Docker, Kubernetes) can only restart a process that exits.

So every fatal condition goes through `fatal()`: it logs one CRITICAL line with the reason and the exit
code, asks the worker to stop gracefully (which commits nothing more: a failed unit taints the gate),
and arms a deadline on a plain thread — the event loop may be the thing that is stuck — after which the
process ends with `os._exit`. A clean stop (SIGTERM) arms the same deadline, so a stop that hangs ends too.

Exit codes (documented in the README):
- 70 `CRASHED`: a component failed (a unit failed half-way, the producer buffer crashed, a transaction
  could not be committed, a producer was fenced by a newer instance).
- 71 `STOP_TIMEOUT`: a stop (signal) did not finish within the grace period.
- 75 `STALLED`: the watchdog saw assigned partitions with committed records waiting and no progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 15.0


class ExitCode(enum.IntEnum):
    CRASHED = 70
    STOP_TIMEOUT = 71
    STALLED = 75


class FatalExit:
    """The process-wide exit policy of one worker: the first fatal reason wins, the deadline is bounded."""

    def __init__(self, grace_s: float = DEFAULT_GRACE_S, *, hard_exit: Callable[[int], None] = os._exit) -> None:
        self.grace_s = grace_s
        self.reason: str | None = None
        self.code: ExitCode | None = None
        self._hard_exit = hard_exit
        self._lock = threading.Lock()
        self._deadline: threading.Timer | None = None

    def fatal(self, code: ExitCode, reason: str, *, stop: Callable[[], None] | None = None) -> None:
        """Record the first fatal reason, log it once, ask for a graceful stop, and arm the deadline."""
        with self._lock:
            first = self.reason is None
            if first:
                self.reason, self.code = reason, code
        if not first:
            return
        log.critical(
            "worker exiting with code %d (%s): %s; process ends within %.0fs", code, code.name, reason, self.grace_s
        )
        self._arm(code)
        if stop is not None:
            stop()

    def stopping(self) -> None:
        """A stop was requested (a signal): it must finish within the grace period too."""
        self._arm(ExitCode.STOP_TIMEOUT)

    def exit_code(self) -> int:
        """What a worker that stopped by itself exits with: 0 for a clean stop, the fatal code otherwise."""
        return int(self.code) if self.code is not None else 0

    def _arm(self, code: ExitCode) -> None:
        with self._lock:
            if self._deadline is not None:
                return
            self._deadline = threading.Timer(self.grace_s, self._expire, args=(code,))
            self._deadline.daemon = True
            self._deadline.start()

    def _expire(self, code: ExitCode) -> None:
        final = self.code or code
        log.critical("worker did not stop within %.0fs; exiting now with code %d (%s)", self.grace_s, final, final.name)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):  # a broken stream must not keep the process alive
                stream.flush()
        self._hard_exit(int(final))


def log_task_stacks(limit: int = 8) -> None:
    """Where every task of the running loop waits, innermost frames last: what a stall report needs."""
    lines = []
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=limit)
        where = " <- ".join(
            f"{f.f_code.co_name}@{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno}" for f in frames
        )
        lines.append(f"  {task.get_name()}: {where or 'not started'}")
    log.warning("tasks at the stall (%d):\n%s", len(lines), "\n".join(sorted(lines)))
