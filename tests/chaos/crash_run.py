"""Kill the worker with SIGKILL at random moments while it works, restart it, and count what came out.

Used by the CI crash test (tests/integration/test_reliability.py, a few kills) and by the longer run
`python -m tests.chaos.crash_run --kills 25` (more kills, bigger simulation). The verdict is the same
in both: every command's events exactly once (by causation id and index), contiguous seq per arena,
the audit passing, no ledger alert, and the rebuilt and live state equal to the pure core's own
expectation for the commands.
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

from producers.simulation import SimulationConfig
from streams.broker.cluster import ensure_cluster
from streams.kafka.settings import Settings
from streams.kafka.topics import create_topics, topic_layout
from tests.support.crash import crash_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=25)
    parser.add_argument("--arenas", type=int, default=4)
    parser.add_argument("--agents", type=int, default=48)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    settings = ensure_cluster(Settings.from_env())
    settings = Settings(
        bootstrap=settings.bootstrap,
        topics=settings.topics.with_prefix(f"chaos-{run_id}-"),
        partitions=settings.partitions,
        replication=settings.replication,
        security=settings.security,
    )
    create_topics(settings, topic_layout(settings))
    config = SimulationConfig(
        seed=args.seed, arenas=args.arenas, agents_per_arena=args.agents, days=args.days, partitions=settings.partitions
    )
    workdir = Path(".arena") / f"chaos-{run_id}"
    workdir.mkdir(parents=True, exist_ok=True)
    figures = crash_run(
        settings, app_id=f"chaos-{run_id}", workdir=workdir, config=config, kills=args.kills, seed=args.seed, say=print
    )
    print(figures.line())
    for item in figures.audit_problems + figures.state_mismatches + figures.live_differences:
        print(f"  ! {item}")
    print("CLEAN" if figures.clean else "NOT CLEAN")
    return 0 if figures.clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
