"""Which Kafka cluster to use: the one configured, or the project's own local broker.

The main job, the tests and the benchmarks all call this one function, so "no cluster configured"
means the same thing everywhere: start (or reuse) the local KRaft broker on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable

from streams.broker.launcher import LocalBroker
from streams.kafka.settings import Settings


def ensure_cluster(settings: Settings, *, progress: Callable[[str], None] | None = None) -> Settings:
    """Settings with a bootstrap address that answers; starts the local broker when none is configured."""
    if settings.bootstrap is not None:
        return settings
    result = LocalBroker().start(progress=progress)
    if progress is not None:
        verb = "reusing" if result.reused else "started"
        progress(f"{verb} local Kafka {result.info.kafka_version} at {result.info.bootstrap} ({result.seconds:.1f}s)")
    return settings.with_bootstrap(result.info.bootstrap)
