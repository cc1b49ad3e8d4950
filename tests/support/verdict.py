"""The verdict on a run through the real pipeline, whatever happened to it (kills, rebalances, failovers).

Every reliability test and chaos script judges the same way: every command's events exactly once (by
event id, which is the causation id and index), contiguous seq per arena, the audit passing, no ledger
alert, and the rebuilt and live state equal to the pure core's own expectation for the commands.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from producers.simulation import SimulationConfig, simulate
from schemas.alerts import decode_alert
from streams.history.live_state import compare, live_states
from streams.history.replay import replay
from streams.kafka.lag import LagTimeout, wait_for_zero_lag
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings, ledger_app_id_of
from streams.kafka.topic_reader import read_snapshot


@dataclass
class CrashFigures:
    kills: int = 0
    commands: int = 0
    events: int = 0
    expected_events: int = 0
    duplicates: int = 0
    missing: int = 0
    seq_gaps: int = 0
    alerts: int = 0
    audit_problems: list[str] = field(default_factory=list)
    state_mismatches: list[str] = field(default_factory=list)
    live_differences: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None  # the run itself could not finish (e.g. the worker stopped committing)

    @property
    def clean(self) -> bool:
        return (
            self.error is None
            and not (
                self.duplicates
                or self.missing
                or self.seq_gaps
                or self.alerts
                or self.audit_problems
                or self.state_mismatches
                or self.live_differences
            )
            and self.events == self.expected_events
        )

    def line(self) -> str:
        return (
            f"kills={self.kills} commands={self.commands} events={self.events}/{self.expected_events} "
            f"duplicates={self.duplicates} missing={self.missing} seq_gaps={self.seq_gaps} alerts={self.alerts} "
            f"audit_problems={len(self.audit_problems)} state_mismatches={len(self.state_mismatches)} "
            f"live_differences={len(self.live_differences)} seconds={self.seconds:.0f}"
            + (f" ERROR={self.error}" if self.error else "")
        )


@dataclass(frozen=True)
class Expectation:
    """What the pure core says the commands must produce: the judge's reference."""

    states: dict[str, object]
    event_ids: frozenset[str]

    @classmethod
    def of(cls, config: SimulationConfig) -> Expectation:
        run = simulate(config, partitioner=partition_for)
        states: dict[str, object] = dict(run.expected_states)
        ids = frozenset(e.event_id for step in simulate(config, partitioner=partition_for) for e in step.events)
        return cls(states=states, event_ids=ids)


def settle_and_judge(
    settings: Settings,
    app_id: str,
    alive: Callable[[], bool],
    expected: Expectation,
    figures: CrashFigures,
    *,
    timeout_s: float = 180,
) -> None:
    """Wait until the live worker has processed every command and event, then fill in the verdict."""
    figures.expected_events = len(expected.event_ids)
    try:
        wait_for_zero_lag(settings, app_id, [settings.topics.commands], timeout_s=timeout_s, alive=alive)
    except LagTimeout as exc:  # a worker that stops committing is a finding, not a harness crash
        figures.error = str(exc)
    audit = replay(settings)
    if figures.error is None:
        try:  # the ledger processor has checked every event
            wait_for_zero_lag(
                settings, ledger_app_id_of(app_id), [settings.topics.events], timeout_s=timeout_s, alive=alive
            )
        except LagTimeout as exc:
            figures.error = str(exc)
    alerts = [decode_alert(r.value) for r in read_snapshot(settings, settings.topics.alerts) if r.value]

    events = audit.audit.events
    figures.events = len(events)
    counts = Counter(e.event_id for e in events)
    figures.duplicates = sum(n - 1 for n in counts.values() if n > 1)
    figures.missing = len(expected.event_ids - set(counts))
    per_arena: dict[str, list[int]] = {}
    for event in events:
        per_arena.setdefault(event.arena_id, []).append(event.seq)
    figures.seq_gaps = sum(1 for seqs in per_arena.values() if seqs != list(range(1, len(seqs) + 1)))
    figures.alerts = len(alerts) + len(audit.audit.alerts)
    figures.audit_problems = list(audit.audit.problems)
    figures.state_mismatches = [a for a, state in expected.states.items() if audit.audit.states.get(a) != state]
    figures.live_differences = [
        f"{d.arena_id}: {d.what}" for d in compare(audit.audit.states, live_states(settings, app_id))
    ]
