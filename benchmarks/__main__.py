"""`python -m benchmarks` (or `make bench`): every benchmark, each against its baseline in the same run.

Results go to benchmarks/results/*.json so later runs can be compared (the end-to-end benchmark writes
e2e-<timestamp>.json, one file per run). The scale matrix of the end-to-end benchmark is not part of
this (about 7 minutes): `python -m benchmarks.e2e --scale`. See benchmarks/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks import core_bench, replay_bench
from benchmarks.e2e import run as e2e

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> int:
    RESULTS.mkdir(exist_ok=True)
    codes = [
        core_bench.main(["--json", str(RESULTS / "core_bench.json")]),
        replay_bench.main(["--json", str(RESULTS / "replay_bench.json")]),
        e2e.main([]),
    ]
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
