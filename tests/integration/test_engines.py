"""The engines through the real pipeline: a short simulation, and a replayed trading feed."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig
from producers.trading_adapter import read_fills
from schemas.events import PnLRecorded, decode_event
from streams.domain import fold, state_problems
from streams.kafka.settings import Settings
from streams.main_job import MainJobFailed, MainJobOptions, SimulationSource, run_main_job
from streams.worker.process import running_worker
from tests.support.builders import command, money, small_policies
from tests.support.kafka_io import read_topic

pytestmark = pytest.mark.integration


def test_a_short_simulation_keeps_conservation_and_the_topic_folds_to_the_expected_state(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    config = SimulationConfig(
        seed=11, arenas=3, agents_per_arena=12, days=6, evolution_every_days=3, partitions=settings.partitions
    )
    lines: list[str] = []
    outcome = run_main_job(
        settings.with_worker(app_id=f"{prefix}app"),
        SimulationSource(config),
        MainJobOptions(report_root=tmp_path / "reports", timeout_s=300),
        say=lines.append,
    )
    text = "\n".join(lines)
    assert outcome.exit_code == 0, text
    assert outcome.audit.passed and outcome.mismatched_arenas == [], text
    # Independently of the main job: fold the event topic again and check every invariant.
    events = [
        decode_event(r.value)
        for r in read_topic(settings, settings.topics.events, expect_at_least=len(outcome.audit.events))
        if r.value
    ]
    states = fold(events)
    assert len(states) == config.arenas
    for state in states.values():
        assert state_problems(state) == []
        assert state.treasury + state.agents_total == state.funded_total - state.withdrawn_total + state.pnl_total
    kinds = {e.type for e in events}
    assert {"AgentKilled", "AgentMutated", "EvolutionCycleComplete", "CapitalConservationCheck"} <= kinds
    assert (outcome.report_dir / "index.html").exists() and (outcome.report_dir / "summary.json").exists()


def test_the_main_job_runs_on_workers_it_did_not_start(settings: Settings, prefix: str, tmp_path: Path) -> None:
    """`arena run --external-workers`, as docker-compose.yml's simulation service runs it."""
    config = SimulationConfig(
        seed=5, arenas=2, agents_per_arena=8, days=4, evolution_every_days=2, partitions=settings.partitions
    )
    app_id = f"{prefix}external"
    lines: list[str] = []
    with running_worker(settings, app_id, tmp_path) as worker:
        outcome = run_main_job(
            settings.with_worker(app_id=app_id),
            SimulationSource(config),
            MainJobOptions(report_root=tmp_path / "reports", timeout_s=300, external_workers=True),
            say=lines.append,
        )
        assert worker.alive(), "the main job must leave a worker it did not start running"
    text = "\n".join(lines)
    assert outcome.exit_code == 0, text
    assert f"the running workers of {app_id} (not started here): 1 in {app_id}, 1 in {app_id}-ledger" in text
    assert not (outcome.report_dir / "worker.log").exists()  # no worker of its own
    assert (outcome.report_dir / "index.html").exists()


def test_the_main_job_says_when_no_external_worker_joins(settings: Settings, prefix: str, tmp_path: Path) -> None:
    config = SimulationConfig(seed=5, arenas=1, agents_per_arena=4, days=1, partitions=settings.partitions)
    options = MainJobOptions(report_root=tmp_path / "reports", external_workers=True, external_join_s=2)
    lines: list[str] = []
    with pytest.raises(MainJobFailed, match=r"no worker of group .* joined within 2s"):
        run_main_job(
            settings.with_worker(app_id=f"{prefix}nobody"), SimulationSource(config), options, say=lines.append
        )


def test_the_trading_adapter_fed_the_same_fills_twice_records_them_once(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    arena = "desk-1"
    setup = [
        command("CreateArena", arena_id=arena, currency="EUR", seed=5, **small_policies()),
        command("FundArena", arena_id=arena, amount=money(2_000_000)),
        command("SpawnAgent", arena_id=arena, agent_id="t1", genome={"exposure_bps": 500}),
        command("AllocateCapital", arena_id=arena, agent_id="t1", amount=money(100_000)),
    ]
    fills = [
        {
            "arena_id": arena,
            "agent_id": "t1",
            "fill_id": f"F{n}",
            "pnl_minor": (n * 37) % 500 - 250,
            "currency": "EUR",
            "period": n,
            "ts_ms": 1_700_000_000_000 + n,
        }
        for n in range(25)
    ]
    feed_bytes = b"".join(orjson.dumps(f) + b"\n" for f in fills)
    with running_worker(settings, f"{prefix}app", tmp_path):
        with CommandPublisher(settings) as publisher:
            publisher.publish_many(setup)
            for _replay in range(2):  # the engine restarts and replays its whole feed
                feed = read_fills(io.BytesIO(feed_bytes))
                assert publisher.publish_many(feed) == len(fills) and feed.error_count == 0
        records = read_topic(settings, settings.topics.events, expect_at_least=4 + len(fills), settle_s=4)
    events = [decode_event(r.value) for r in records if r.value]
    recorded = [e for e in events if e.type == "PnLRecorded"]
    assert len(recorded) == len(fills)
    refs = [e.payload.fill_ref for e in recorded if isinstance(e.payload, PnLRecorded)]
    assert sorted(r or "" for r in refs) == sorted(str(f["fill_id"]) for f in fills)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert not [e for e in events if e.type in {"CommandRejected", "AllocationError"}]
