"""A CPU hog on every core, for reliability tests that must also hold on a starved machine.

Concurrency bugs hide on an idle machine: issue 12's rebalance race was seen only while the build
machine was busy. `stress-ng` (Debian's package, installed by .ci/setup) is used when present; otherwise
one Python busy loop per core.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

_BURN = "import time\nwhile True:\n    time.perf_counter()\n"


@contextmanager
def cpu_hog(workers: int | None = None) -> Iterator[int]:
    """Keep `workers` (default: one per core) processes busy at 100 % until the block ends; yields their number."""
    count = workers or os.cpu_count() or 2
    stress = shutil.which("stress-ng")
    if stress is not None:
        commands = [[stress, "--cpu", str(count), "--cpu-load", "100", "--quiet"]]
    else:
        commands = [[sys.executable, "-c", _BURN] for _ in range(count)]
    processes = [
        subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for command in commands
    ]
    try:
        yield count
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
