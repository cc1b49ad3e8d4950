"""`arena worker` whose table recovery takes ARENA_TEST_RECOVERY_DELAY_S seconds longer than it needs.

Recovery of a small test run takes milliseconds, too short to watch `/ready` say 503 while it happens.
The wrapper delays the committed-changelog read (it runs on a thread, so the event loop and the web
endpoints go on answering meanwhile); everything else is the real worker.

Run as `python -m tests.support.slow_recovery_worker` with ARENA_TEST_RECOVERY_DELAY_S set.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

DELAY_S = float(os.environ["ARENA_TEST_RECOVERY_DELAY_S"])
log = logging.getLogger("slow-recovery")


def main() -> int:
    import streams.worker.app  # noqa: PLC0415

    module = vars(streams.worker.app)  # the name build_worker calls, as the worker module bound it
    read = module["committed_rows_by_partition"]

    def slow_read(settings: Any, partitions: Any) -> Any:
        log.warning("recovery: waiting %.1fs before reading %d changelog partitions", DELAY_S, len(partitions))
        time.sleep(DELAY_S)
        return read(settings, partitions)

    module["committed_rows_by_partition"] = slow_read
    from streams.cli import main as arena  # noqa: PLC0415

    return arena(["worker", *sys.argv[1:]])


if __name__ == "__main__":
    raise SystemExit(main())
