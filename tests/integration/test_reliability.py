"""Crashes: SIGKILL the worker at random moments; no capital created, lost or counted twice."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from producers.simulation import SimulationConfig
from streams.kafka.topics import create_topics, topic_layout
from tests.support.crash import crash_run
from tests.support.kafka_cluster import KafkaCluster
from tests.support.verdict import CrashFigures

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def crashed(kafka: KafkaCluster, tmp_path_factory: pytest.TempPathFactory) -> CrashFigures:
    """One simulation, five SIGKILLs at random moments (seed: ARENA_CRASH_SEED, default 3), then audited."""
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    settings = kafka.settings(prefix)
    create_topics(settings, topic_layout(settings))
    config = SimulationConfig(
        seed=3, arenas=3, agents_per_arena=24, days=16, evolution_every_days=4, partitions=settings.partitions
    )
    workdir: Path = tmp_path_factory.mktemp("crash")
    figures = crash_run(
        settings,
        app_id=f"{prefix}app",
        workdir=workdir,
        config=config,
        kills=5,
        seed=int(os.environ.get("ARENA_CRASH_SEED", "3")),
    )
    print(f"\ncrash run: {figures.line()}")
    return figures


def test_sigkill_at_random_moments_neither_loses_nor_doubles_events_or_money(crashed: CrashFigures) -> None:
    assert crashed.error is None, crashed.error
    assert crashed.kills == 5
    assert crashed.duplicates == 0 and crashed.missing == 0, crashed.line()
    assert crashed.events == crashed.expected_events, crashed.line()
    assert crashed.seq_gaps == 0, crashed.line()
    assert crashed.audit_problems == [], crashed.audit_problems
    assert crashed.state_mismatches == [], "the state rebuilt from the topic differs from the pure core's"
    assert crashed.live_differences == [], crashed.live_differences


def test_sigkill_at_random_moments_raises_no_ledger_alert(crashed: CrashFigures) -> None:
    assert crashed.alerts == 0, crashed.line()
