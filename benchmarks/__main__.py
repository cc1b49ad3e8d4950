"""`python -m benchmarks` (or `make bench`): every benchmark, each against its baseline in the same run.

Results go to benchmarks/results/*.json so later runs can be compared. The end-to-end benchmark of
issue 7 is not written yet; see benchmarks/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks import core_bench, replay_bench

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    codes = [
        core_bench.main(["--json", str(RESULTS / "core_bench.json")]),
        replay_bench.main(["--json", str(RESULTS / "replay_bench.json")]),
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
