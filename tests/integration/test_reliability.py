"""Crashes, restarts, duplicates and hostile input: no capital created, lost or counted twice."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.simulation import SimulationConfig
from streams.config import Settings
from tests.chaos.crash_run import crash_run

pytestmark = pytest.mark.integration


def test_sigkill_at_random_moments_loses_and_doubles_nothing(settings: Settings, prefix: str, tmp_path: Path) -> None:
    config = SimulationConfig(
        seed=3, arenas=3, agents_per_arena=24, days=16, evolution_every_days=4, partitions=settings.partitions
    )
    lines: list[str] = []
    figures = crash_run(
        settings, app_id=f"{prefix}app", workdir=tmp_path, config=config, kills=5, seed=3, say=lines.append
    )
    print(figures.line())  # the figures of the run, in the test log
    assert figures.kills == 5
    assert figures.duplicates == 0 and figures.missing == 0, figures.line()
    assert figures.seq_gaps == 0 and figures.alerts == 0, figures.line()
    assert figures.audit_problems == [] and figures.state_mismatches == [] and figures.live_differences == []
    assert figures.events == figures.expected_events
