"""The main job: a simulated 30-day arena through the real pipeline, then an audit and a report.

Steps, each printed as it happens: resolve the cluster (the local broker unless one is configured),
create the topics, start a worker process, publish the simulation's commands, wait until the worker's
committed offsets reach the end of the command topic (lag 0: every event is committed), audit the whole
event topic with the pure book, check that the state rebuilt from the topic equals the state the
simulation expected (both computed by the same pure core), wait until the ledger processor has
checked every event, collect alerts and dead letters, and write the report.

The exit code is the verdict: 0 only when the audit passed, the rebuilt state matched, and no alert
was raised.

With `external_workers` (`arena run --external-workers`) the job starts no worker: the workers of the
group already run somewhere else (docker-compose.yml's `worker` service, a deployment), and the job waits
until each of the worker's two groups has a member, then does everything else the same way. It cannot restart
them; their supervisor (Compose's restart policy) does, and the stall limit still ends the wait.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from schemas.alerts import ConservationAlert, decode_alert
from schemas.commands import Command
from streams.broker.cluster import ensure_cluster
from streams.domain import ArenaState
from streams.history.audit import AuditResult, audit_records
from streams.kafka.lag import GroupLag, LagTimeout, group_lag, wait_for_zero_lag, worker_groups
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import read_snapshot
from streams.kafka.topics import create_topics, wait_until_served, worker_topic_layout
from streams.processors.dead_letter import decode_dead_letter
from streams.worker.process import SupervisedWorker, WorkerFailed


class CommandSource(Protocol):
    """What the main job needs from an engine run: its commands and what the core expects of them."""

    def commands(self) -> Iterable[Command]: ...

    def expected_states(self) -> dict[str, ArenaState]: ...

    def describe(self) -> str: ...


class SimulationSource:
    """The simulation engine as the main job's command source."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.run = simulate(config, partitioner=partition_for)

    def commands(self) -> Iterable[Command]:
        return self.run.commands()

    def expected_states(self) -> dict[str, ArenaState]:
        return dict(self.run.expected_states)

    def describe(self) -> str:
        c = self.config
        return (
            f"{c.arenas} arenas x {c.agents_per_arena} agents x {c.days} days, evolution every "
            f"{c.evolution_every_days} days, seed {c.seed}"
        )


@dataclass(frozen=True, slots=True)
class MainJobOptions:
    report_root: Path = Path("reports")
    timeout_s: float = 1800.0
    # A worker that exits is restarted this many times (exactly-once makes a restart safe at any point).
    worker_restarts: int = 3
    # The committed offsets must move within this long while work is waiting. The worker's own watchdog
    # ends a stalled worker after ARENA_STALL_TIMEOUT_S (60 s) and its restart recovers in seconds, so
    # this is the backstop for a worker that neither works nor exits.
    stall_s: float = 180.0
    # The workers run elsewhere (Compose, a deployment): start none, wait for one of the group to join.
    external_workers: bool = False
    # How long to wait for the first member of the group when the workers are external.
    external_join_s: float = 180.0


class MainJobFailed(RuntimeError):
    """The main job could not finish: one line that says why, with the worker log's path."""


@dataclass(frozen=True, slots=True)
class MainJobOutcome:
    exit_code: int
    report_dir: Path
    audit: AuditResult
    mismatched_arenas: list[str]


def run_main_job(
    settings: Settings, source: CommandSource, options: MainJobOptions, *, say: Callable[[str], None] | None = None
) -> MainJobOutcome:
    from streams.report.build import RunFacts, build_report, summary_text, write_report  # noqa: PLC0415

    out = say or (lambda line: print(line, flush=True))
    stamp = datetime.now(tz=UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = (options.report_root / f"run-{stamp}").resolve()
    run_dir.mkdir(parents=True, exist_ok=True)

    step = _Steps(out, total=7)
    step("broker", "resolving the cluster")
    settings = ensure_cluster(settings, progress=lambda m: out(f"             {m}"))
    layout = worker_topic_layout(settings, settings.worker.app_id)
    created = create_topics(settings, layout)
    wait_until_served(settings, [spec.name for spec in layout], partitions=settings.partitions)
    step(
        "topics",
        f"{len(layout)} topics x {settings.partitions} partitions, table changelogs included"
        + (f" (created {len(created)})" if created else ""),
    )

    began = time.monotonic()
    worker: SupervisedWorker | ExternalWorkers
    if options.external_workers:
        worker = ExternalWorkers(settings, join_timeout_s=options.external_join_s)
        where = "the workers' own logs (docker compose logs worker)"
    else:
        worker = SupervisedWorker(
            settings,
            settings.worker.app_id,
            run_dir,
            max_restarts=options.worker_restarts,
            say=lambda m: out(f"             {m}"),
        )
        where = f"worker log: {worker.log_path}"
    try:
        with worker:
            if isinstance(worker, ExternalWorkers):
                step("worker", f"{worker.describe()} after {time.monotonic() - began:.1f}s")
            else:
                step("worker", f"ready in {time.monotonic() - began:.1f}s (log {worker.log_path})")
            run = _run_with_worker(settings, source, options, worker.ensure_running, step=step, out=out)
    except WorkerFailed as exc:
        raise MainJobFailed(str(exc)) from None
    except LagTimeout as exc:
        raise MainJobFailed(f"{exc}; {where}") from None

    audit, mismatched = run.audit, run.mismatched
    problems = list(audit.problems) + [f"arena {a}: rebuilt state differs from the expected one" for a in mismatched]
    facts = RunFacts(
        commands_published=run.published,
        seconds=run.seconds,
        dead_letters=sum(run.dead_letters.values()),
        dead_letter_reasons=dict(run.dead_letters),
        alerts=run.alerts + audit.alerts,
        audit_problems=problems,
        settings=settings.redacted(),
    )
    run_arenas = set(run.arenas)
    report = build_report((e for e in audit.events if e.arena_id in run_arenas), facts)
    html_path, json_path = write_report(report, run_dir)
    note = _point_latest(options.report_root, run_dir)
    if note:
        out(note)
    step("report", f"{html_path}")
    out("")
    out(summary_text(report))
    out(f"report: {html_path}\nsummary: {json_path}")
    passed = audit.passed and not mismatched and not run.alerts
    return MainJobOutcome(0 if passed else 1, run_dir, audit, mismatched)


@dataclass(frozen=True, slots=True)
class _RunResult:
    published: int
    seconds: float
    audit: AuditResult
    arenas: list[str]
    mismatched: list[str]
    alerts: list[ConservationAlert]
    dead_letters: Counter[str]


def _run_with_worker(
    settings: Settings,
    source: CommandSource,
    options: MainJobOptions,
    alive: Callable[[], bool],
    *,
    step: _Steps,
    out: Callable[[str], None],
) -> _RunResult:
    step("simulate", source.describe())
    published, seconds = _publish_and_wait(settings, source, options, alive=alive, step=step, out=out)

    step("audit", f"replaying {settings.topics.events} through the pure book")
    audit = audit_records(read_snapshot(settings, settings.topics.events), topic=settings.topics.events)
    expected = source.expected_states()
    mismatched = sorted(a for a, state in expected.items() if audit.states.get(a) != state)
    out(f"             {audit.verdict()}")
    out(
        f"             rebuilt state equals the simulation's expectation for "
        f"{len(expected) - len(mismatched)}/{len(expected)} arenas"
    )

    # The ledger processor has checked everything once its group's lag on the event topic is 0 (`arena lag`).
    wait_for_zero_lag(
        settings,
        settings.worker.ledger_app_id,
        [settings.topics.events],
        timeout_s=options.timeout_s,
        alive=alive,
        stall_s=options.stall_s,
    )
    return _RunResult(
        published=published,
        seconds=seconds,
        audit=audit,
        arenas=sorted(expected),
        mismatched=mismatched,
        alerts=_alerts(settings),
        dead_letters=_dead_letter_reasons(settings),
    )


def _publish_and_wait(
    settings: Settings,
    source: CommandSource,
    options: MainJobOptions,
    *,
    alive: Callable[[], bool],
    step: _Steps,
    out: Callable[[str], None],
) -> tuple[int, float]:
    """Publish the run's commands, then wait for lag 0; returns (commands, seconds from first publish)."""
    publish_began = time.monotonic()
    with CommandPublisher(settings) as publisher:
        published = publisher.publish_many(
            source.commands(),
            progress=lambda n: out(f"             published {n:,} commands") if n % 5000 == 0 else None,
        )
    out(f"             published {published:,} commands in {time.monotonic() - publish_began:.1f}s")
    last_report = [0.0]

    def show_lag(lag: GroupLag) -> None:
        now = time.monotonic()
        if now - last_report[0] >= 2.0 or lag.total == 0:
            last_report[0] = now
            done = published - min(lag.total, published)
            rate = done / max(now - publish_began, 1e-9)
            out(f"             processed ~{done:,}/{published:,} commands, lag {lag.total:,} ({rate:,.0f}/s)")

    step("processing", "waiting until the worker has committed every command (lag 0)")
    wait_for_zero_lag(
        settings,
        settings.worker.app_id,
        [settings.topics.commands],
        timeout_s=options.timeout_s,
        progress=show_lag,
        alive=alive,
        stall_s=options.stall_s,
    )
    return published, time.monotonic() - publish_began


class ExternalWorkers:
    """The workers of the group that someone else runs: waited for, never started, stopped or restarted.

    A worker is two consumer groups (the command processor's and the ledger processor's, one process or
    two roles), so both must have a member before anything is published.
    """

    def __init__(self, settings: Settings, *, join_timeout_s: float = 180.0, poll_s: float = 1.0) -> None:
        self._settings = settings
        self._join_timeout_s = join_timeout_s
        self._poll_s = poll_s
        self.members: dict[str, int] = {}

    def __enter__(self) -> ExternalWorkers:
        self.members = self._wait_for_members()
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def describe(self) -> str:
        counts = ", ".join(f"{n} in {group}" for group, n in self.members.items())
        return f"the running workers of {self._settings.worker.app_id} (not started here): {counts}"

    def ensure_running(self) -> bool:
        """Always True: their supervisor restarts them; a worker that is gone for good ends in the stall limit."""
        return True

    def _wait_for_members(self) -> dict[str, int]:
        settings, app_id = self._settings, self._settings.worker.app_id
        deadline = time.monotonic() + self._join_timeout_s
        while True:
            members = {
                group: len(group_lag(settings, group, topics).members)
                for group, topics in worker_groups(settings, app_id)
            }
            if all(members.values()):
                return members
            if time.monotonic() > deadline:
                empty = ", ".join(group for group, n in members.items() if not n)
                raise WorkerFailed(
                    f"no worker of group {empty} joined within {self._join_timeout_s:.0f}s; "
                    "--external-workers needs them running (docker compose up worker)"
                )
            time.sleep(self._poll_s)


class _Steps:
    def __init__(self, out: Callable[[str], None], total: int) -> None:
        self._out = out
        self._total = total
        self._n = 0

    def __call__(self, name: str, text: str) -> None:
        self._n += 1
        self._out(f"[{self._n}/{self._total}] {name:<10} {text}")


def _alerts(settings: Settings) -> list[ConservationAlert]:
    return [decode_alert(r.value) for r in read_snapshot(settings, settings.topics.alerts) if r.value]


def _dead_letter_reasons(settings: Settings) -> Counter[str]:
    reasons: Counter[str] = Counter()
    for record in read_snapshot(settings, settings.topics.dlq):
        reasons[decode_dead_letter(record.value).reason if record.value else "EMPTY"] += 1
    return reasons


def _point_latest(root: Path, run_dir: Path) -> str | None:
    """`reports/latest` → this run; on a filesystem without symlinks, say so (the run dir is printed anyway)."""
    latest = root / "latest"
    try:
        if latest.is_symlink() or latest.exists():
            latest.unlink()
        latest.symlink_to(run_dir.name)
    except OSError as exc:
        return f"note: could not point {latest} at {run_dir}: {exc}"
    return None
