"""`arena worker` whose command processing blocks for good after a few commands: a stall to be noticed.

The block is a plain `time.sleep` inside the processor, so the event loop itself stops: the worker can
neither process nor stop gracefully. Only the stall watchdog's own thread (streams/worker/stall_watchdog.py)
and the exit deadline (streams/eos/fatal_exit.py) can end the process.

Run as `python -m tests.support.stalling_worker` with ARENA_TEST_STALL_AFTER (commands before the block).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import streams.processors.command_processor

STALL_AFTER = int(os.environ.get("ARENA_TEST_STALL_AFTER", "5"))


def main() -> int:
    handle = streams.processors.command_processor.CommandProcessor._process
    seen = [0]

    def blocking_handle(self: streams.processors.command_processor.CommandProcessor, *args: Any, **kwargs: Any) -> Any:
        seen[0] += 1
        if seen[0] > STALL_AFTER:
            time.sleep(3600)
        return handle(self, *args, **kwargs)

    streams.processors.command_processor.CommandProcessor._process = blocking_handle  # type: ignore[method-assign]
    from streams.cli import main as arena  # noqa: PLC0415

    return arena(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main())
