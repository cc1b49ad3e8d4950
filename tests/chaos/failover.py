"""Failover on a three-node cluster: what production clusters do every week, with the worker at work.

Three scenarios, each on the local three-node cluster (`arena broker start --nodes 3`: a controller
quorum of three, replication 3, `min.insync.replicas=2`), each judged like the crash test
(tests/chaos/crash_run.py): every command's events exactly once by causation id and index, contiguous
seq, no ledger alert, the audit clean, the rebuilt state equal to the pure core's fold and to the live
tables.

- `leader`: `kill -9` the node leading the busiest event partition while commands flow; restart it later.
- `coordinator`: `kill -9` the node coordinating most of the worker's transactional ids.
- `two-down`: `kill -9` two nodes at once. The controller quorum and every partition's ISR fall below
  two, so no write may be accepted: a probe producer (acks=all) must get no acknowledgement, and the
  publisher and the worker block. One node comes back, and everything resumes; then the other.

The worker runs supervised (as under `arena run`, Docker or Kubernetes): if it exits (codes 70/71/75)
it is restarted, and the restarts are part of the figures. Recovery time is measured from the fault
(for `two-down`, from the return of the first node) to the moment every partition that had commands
waiting has committed past where it stood.

    python -m tests.chaos.failover                  # all three, on a cluster started under .arena/chaos-cluster
    python -m tests.chaos.failover --scenario two-down --down-s 45
"""

from __future__ import annotations

import argparse
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from confluent_kafka import Producer

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from schemas.commands import Command
from streams.broker.launcher import BrokerPaths, LocalBroker, project_root
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import committed_offsets, end_offsets
from streams.kafka.topics import TopicSpec, create_topics, describe_topics, topic_layout
from streams.store.table_names import ALL_TABLES, changelog_topic
from streams.worker.process import SupervisedWorker
from tests.support.kafka_roles import (
    CONSUMER_OFFSETS,
    TRANSACTION_STATE,
    coordinator_partition,
    group_coordinator,
    leader_of,
    roles,
    transactional_ids,
    wait_until_fully_replicated,
)
from tests.support.verdict import CrashFigures, Expectation, settle_and_judge

SCENARIOS = ("leader", "coordinator", "two-down")


@dataclass
class FailoverFigures:
    scenario: str
    judged: CrashFigures = field(default_factory=CrashFigures)
    killed: list[int] = field(default_factory=list)
    roles_of_killed: list[str] = field(default_factory=list)
    recovery_s: float | None = None  # fault (or, two-down: first node back) -> every waiting partition committed on
    down_s: float = 0.0  # how long the killed node(s) stayed down
    rereplicated_s: float | None = None  # restart of the last node -> every partition's ISR full again
    worker_restarts: int = 0
    probe_writes: int = 0  # two-down: writes attempted while below min ISR
    probe_accepted: int = 0  # ... of which the cluster acknowledged (must be 0)
    probe_landed_late: int = 0  # ... unacknowledged (timed out) but in the log after the cluster healed
    node_start_s: float = 0.0  # two-down: how long the first node took to come back and answer
    replication: dict[str, str] = field(default_factory=dict)  # topic kind -> "RF/minISR"

    @property
    def clean(self) -> bool:
        return self.judged.clean and self.probe_accepted == 0 and self.recovery_s is not None

    def line(self) -> str:
        recovery = "never" if self.recovery_s is None else f"{self.recovery_s:.1f}s"
        rereplicated = "-" if self.rereplicated_s is None else f"{self.rereplicated_s:.1f}s"
        probes = (
            f" probe_acked={self.probe_accepted}/{self.probe_writes} probe_landed_late={self.probe_landed_late}"
            f" node_start={self.node_start_s:.1f}s"
            if self.probe_writes
            else ""
        )
        return (
            f"[{self.scenario}] killed={self.killed} ({'; '.join(self.roles_of_killed)}) down={self.down_s:.0f}s "
            f"recovery={recovery} isr_full_again={rereplicated} worker_restarts={self.worker_restarts}{probes} "
            f"| {self.judged.line()}"
        )


class CommitWatch:
    """Samples the group's committed offsets on a thread, so recovery can be timed after the fact."""

    def __init__(self, settings: Settings, group_id: str, topic: str, *, every_s: float = 0.25) -> None:
        self._settings, self._group, self._topic, self._every = settings, group_id, topic, every_s
        self.samples: list[tuple[float, dict[int, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="commit-watch", daemon=True)

    def __enter__(self) -> CommitWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                committed = committed_offsets(self._settings, self._group, self._topic)
            except Exception:  # noqa: BLE001 - the cluster is expected to be unreachable at times
                committed = None
            if committed is not None:
                self.samples.append((time.monotonic(), dict(committed)))
            self._stop.wait(self._every)

    def last_before(self, moment: float) -> dict[int, int]:
        before = [offsets for at, offsets in self.samples if at <= moment]
        return before[-1] if before else {}

    def recovered_after(self, moment: float, waiting: Sequence[int], since: float | None = None) -> float | None:
        """Seconds from `moment` until every partition in `waiting` committed past where it stood at `since`."""
        base = self.last_before(since if since is not None else moment)
        pending = set(waiting)
        for at, offsets in self.samples:
            if at <= moment:
                continue
            pending -= {p for p in pending if offsets.get(p, -1) > base.get(p, -1)}
            if not pending:
                return at - moment
        return None


@dataclass
class FailoverRun:
    """One scenario's moving parts: the cluster, the pipeline's settings, the worker and the commands."""

    cluster: LocalBroker
    settings: Settings
    app_id: str
    workdir: Path
    config: SimulationConfig
    rng: random.Random
    say: Callable[[str], None]

    def chunks(self) -> tuple[list[Command], list[Command], list[Command]]:
        commands = list(simulate(self.config, partitioner=partition_for).commands())
        third = len(commands) // 3
        return commands[:third], commands[third : 2 * third], commands[2 * third :]

    def publish(self, commands: list[Command]) -> int:
        with CommandPublisher(self.settings) as publisher:
            return publisher.publish_many(commands)

    def publish_in_background(self, commands: list[Command]) -> tuple[threading.Thread, list[BaseException]]:
        errors: list[BaseException] = []

        def run() -> None:
            try:
                self.publish(commands)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which fails the run
                errors.append(exc)

        thread = threading.Thread(target=run, name="publisher", daemon=True)
        thread.start()
        return thread, errors

    def waiting_partitions(self) -> list[int]:
        """Command partitions holding commands the group has not committed yet."""
        ends = end_offsets(self.settings, self.settings.topics.commands)
        committed = committed_offsets(self.settings, self.app_id, self.settings.topics.commands)
        return [p for p, end in ends.items() if end > max(committed.get(p, -1), 0)]

    def pipeline_topics(self) -> list[str]:
        topics = self.settings.topics
        return [topics.commands, topics.events, topics.alerts, topics.dlq] + [
            changelog_topic(self.app_id, table) for table in ALL_TABLES
        ]

    def describe_roles(self, node: int) -> str:
        """What `node` does right now, in a few words, for the figures."""
        short = {self.settings.topics.events: "events", self.settings.topics.commands: "commands"}
        led = [f"{short[r.topic]}[{r.partition}]" for r in roles(self.settings, list(short)) if r.leader == node]
        tids = transactional_ids(self.settings, self.app_id)
        state = {r.partition: r.leader for r in roles(self.settings, [TRANSACTION_STATE])}
        coordinated = sum(1 for partition in tids.values() if state.get(partition) == node)
        group = group_coordinator(self.settings, self.app_id)
        parts = [f"node {node}: leads {', '.join(led) or 'no pipeline partition'}"]
        parts.append(f"coordinates {coordinated}/{len(tids)} transactional ids")
        if group == node:
            parts.append("is the group coordinator")
        return ", ".join(parts)


def replication_figures(settings: Settings, app_id: str) -> dict[str, str]:
    """RF/min ISR of the pipeline topics, one changelog, and the two internal topics, as the cluster has them."""
    names = {
        "events": settings.topics.events,
        "commands": settings.topics.commands,
        "changelog": changelog_topic(app_id, ALL_TABLES[0]),
        CONSUMER_OFFSETS: CONSUMER_OFFSETS,
        TRANSACTION_STATE: TRANSACTION_STATE,
    }
    states = describe_topics(settings, list(names.values()))
    return {
        kind: f"{states[name].replication}/{states[name].configs.get('min.insync.replicas', 'broker default')}"
        for kind, name in names.items()
        if name in states
    }


def _settle(run: FailoverRun, worker: SupervisedWorker, figures: FailoverFigures, expected: Expectation) -> None:
    settle_and_judge(run.settings, run.app_id, worker.ensure_running, expected, figures.judged, timeout_s=420)
    figures.worker_restarts = worker.restarts


def _supervise_for(worker: SupervisedWorker, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        worker.ensure_running()
        time.sleep(0.5)


def one_node_down(run: FailoverRun, scenario: str, *, down_s: float) -> FailoverFigures:
    """Kill one node holding a role mid-run, keep it down for `down_s`, then start it again."""
    figures = FailoverFigures(scenario)
    expected = Expectation.of(run.config)
    first, second, third = run.chunks()
    began = time.monotonic()
    with (
        SupervisedWorker(run.settings, run.app_id, run.workdir, max_restarts=5, say=run.say) as worker,
        CommitWatch(run.settings, run.app_id, run.settings.topics.commands) as watch,
    ):
        figures.judged.commands += run.publish(first)
        _supervise_for(worker, run.rng.uniform(0.5, 2.0))  # mid-run: the worker is busy with the backlog
        victim = _victim(run, scenario)
        figures.roles_of_killed.append(run.describe_roles(victim))
        backlog = run.waiting_partitions()
        run.cluster.kill_node(victim)
        killed_at = time.monotonic()
        figures.killed.append(victim)
        run.say(f"killed node {victim} ({figures.roles_of_killed[-1]}); {len(backlog)} partition(s) had a backlog")
        # Published through the failover; every partition it reaches must commit again.
        waiting = sorted({partition_for(c.arena_id, run.settings.partitions) for c in second})
        publisher, errors = run.publish_in_background(second)
        publisher.join()
        figures.judged.commands += len(second)
        if errors:
            raise RuntimeError(f"publishing while node {victim} was down failed: {errors[0]}")
        _supervise_for(worker, max(0.0, down_s - (time.monotonic() - killed_at)))
        figures.recovery_s = watch.recovered_after(killed_at, waiting)
        run.cluster.start_node(victim)
        figures.down_s = time.monotonic() - killed_at
        restarted_at = time.monotonic()
        figures.judged.commands += run.publish(third)
        _settle(run, worker, figures, expected)
        if figures.recovery_s is None:  # not within the outage: measured over the whole run
            figures.recovery_s = watch.recovered_after(killed_at, waiting)
    figures.rereplicated_s = wait_until_fully_replicated(run.settings, run.pipeline_topics()) + (
        time.monotonic() - restarted_at
    )
    figures.judged.kills = 1
    figures.judged.seconds = time.monotonic() - began
    figures.replication = replication_figures(run.settings, run.app_id)
    return figures


def _victim(run: FailoverRun, scenario: str) -> int:
    if scenario == "leader":
        ends = end_offsets(run.settings, run.settings.topics.events)
        busiest = max(ends, key=lambda p: ends[p])
        return leader_of(run.settings, run.settings.topics.events, busiest)
    # The coordinator of most of the worker's transactional ids (read from __transaction_state, and
    # checked against the broker's own placement rule).
    tids = transactional_ids(run.settings, run.app_id)
    if not tids:
        raise RuntimeError(f"no transactional id of {run.app_id} in {TRANSACTION_STATE} yet")
    partitions = len({r.partition for r in roles(run.settings, [TRANSACTION_STATE])})
    for tid, partition in tids.items():
        derived = coordinator_partition(tid, partitions)
        if derived != partition:
            raise AssertionError(f"{tid} is in {TRANSACTION_STATE}[{partition}], derived {derived}")
    leaders = {r.partition: r.leader for r in roles(run.settings, [TRANSACTION_STATE])}
    counts: dict[int, int] = {}
    for partition in tids.values():
        counts[leaders[partition]] = counts.get(leaders[partition], 0) + 1
    return max(counts, key=lambda node: counts[node])


def two_nodes_down(run: FailoverRun, *, down_s: float) -> FailoverFigures:
    """Kill two of three nodes at once; nothing may be acknowledged until one is back; then all resumes."""
    figures = FailoverFigures("two-down")
    expected = Expectation.of(run.config)
    first, second, third = run.chunks()
    probe_topic = f"{run.settings.topics.commands}.probe"
    create_topics(run.settings, [TopicSpec(probe_topic, 3, None, "writes attempted below min ISR")])
    began = time.monotonic()
    with (
        SupervisedWorker(run.settings, run.app_id, run.workdir, max_restarts=5, say=run.say) as worker,
        CommitWatch(run.settings, run.app_id, run.settings.topics.commands) as watch,
    ):
        figures.judged.commands += run.publish(first)
        _supervise_for(worker, run.rng.uniform(1.0, 3.0))
        info = run.cluster.status()
        if info is None:
            raise RuntimeError("the cluster is not running")
        nodes = [n.node_id for n in info.nodes]
        victims = sorted(run.rng.sample(nodes, 2))
        for victim in victims:
            figures.roles_of_killed.append(run.describe_roles(victim))
        for victim in victims:
            run.cluster.kill_node(victim)
        killed_at = time.monotonic()
        figures.killed.extend(victims)
        run.say(f"killed nodes {victims}; node {set(nodes) - set(victims)} is alone")
        publisher, errors = run.publish_in_background(second)
        figures.probe_writes, figures.probe_accepted = _probe_writes(run.settings, probe_topic, within_s=down_s * 0.6)
        _supervise_for(worker, max(0.0, down_s - (time.monotonic() - killed_at)))
        waiting = sorted({partition_for(c.arena_id, run.settings.partitions) for c in second})
        back_at = time.monotonic()
        figures.down_s = back_at - killed_at
        run.cluster.start_node(victims[0])
        figures.node_start_s = time.monotonic() - back_at
        run.say(
            f"node {victims[0]} restarted after {figures.down_s:.0f}s down; answering {figures.node_start_s:.1f}s later"
        )
        publisher.join(300)
        figures.judged.commands += len(second)
        if errors or publisher.is_alive():
            raise RuntimeError(f"publishing through the outage failed: {errors[0] if errors else 'still blocked'}")
        _supervise_for(worker, 5.0)
        run.cluster.start_node(victims[1])
        restarted_at = time.monotonic()
        figures.judged.commands += run.publish(third)
        _settle(run, worker, figures, expected)
        figures.recovery_s = watch.recovered_after(back_at, waiting, since=killed_at)
    figures.rereplicated_s = wait_until_fully_replicated(run.settings, run.pipeline_topics()) + (
        time.monotonic() - restarted_at
    )
    # A write that timed out has an unknown outcome, not a refused one: the leader may hold it, and it
    # becomes visible once enough replicas are back. Counted apart; the pipeline's producers retry
    # idempotently instead of giving up, so theirs land exactly once.
    figures.probe_landed_late = _records_in(run.settings, probe_topic) - figures.probe_accepted
    figures.judged.kills = 2
    figures.judged.seconds = time.monotonic() - began
    figures.replication = replication_figures(run.settings, run.app_id)
    return figures


def _probe_writes(settings: Settings, topic: str, *, within_s: float) -> tuple[int, int]:
    """Try acks=all writes to every partition while the cluster is below min ISR; count the acknowledged."""
    producer = Producer(
        settings.client_config(
            {
                "acks": "all",
                "enable.idempotence": True,
                "delivery.timeout.ms": int(max(2.0, within_s) * 1000),
                "request.timeout.ms": int(max(1.0, within_s / 2) * 1000),
                "log_level": 0,
            }
        )
    )
    accepted: list[bool] = []

    def report(err: object, _msg: object) -> None:
        accepted.append(err is None)

    attempts = 0
    for partition in range(3):
        for n in range(5):
            producer.produce(topic, value=f"probe-{partition}-{n}".encode(), partition=partition, on_delivery=report)
            attempts += 1
    producer.flush(within_s + 10)
    return attempts, sum(accepted)


def _records_in(settings: Settings, topic: str) -> int:
    ends = end_offsets(settings, topic)
    return sum(ends.values())


def run_scenario(
    scenario: str,
    cluster: LocalBroker,
    base: Settings,
    workdir: Path,
    *,
    seed: int,
    down_s: float,
    config: SimulationConfig | None = None,
    say: Callable[[str], None] = print,
) -> FailoverFigures:
    """Fresh topics and a fresh worker group on the running cluster, then one scenario."""
    run_id = uuid.uuid4().hex[:8]
    settings = replace(base, topics=base.topics.with_prefix(f"fo-{scenario}-{run_id}-"))
    create_topics(settings, topic_layout(settings))
    simulation = config or SimulationConfig(
        seed=seed, arenas=4, agents_per_arena=16, days=12, evolution_every_days=4, partitions=settings.partitions
    )
    scenario_dir = workdir / f"{scenario}-{run_id}"
    scenario_dir.mkdir(parents=True, exist_ok=True)
    run = FailoverRun(cluster, settings, f"fo-{scenario}-{run_id}", scenario_dir, simulation, random.Random(seed), say)
    wait_until_fully_replicated(settings, [settings.topics.commands, settings.topics.events])
    if scenario == "two-down":
        return two_nodes_down(run, down_s=down_s)
    return one_node_down(run, scenario, down_s=down_s)


def cluster_settings(cluster: LocalBroker) -> Settings:
    info = cluster.status()
    if info is None:
        raise RuntimeError("the three-node cluster is not running")
    return replace(Settings.from_env(), bootstrap=info.bootstrap, replication=None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--down-s", type=float, default=20.0, help="how long the killed node(s) stay down")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--home", type=Path, default=project_root() / ".arena" / "chaos-cluster")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running afterwards")
    args = parser.parse_args()
    cluster = LocalBroker(BrokerPaths(home=args.home, pom=project_root() / "pom.xml"))
    started = cluster.start(nodes=3, progress=print)
    print(f"cluster: Kafka {started.info.kafka_version}, {started.info.bootstrap} ({started.seconds:.1f}s)")
    results: list[FailoverFigures] = []
    try:
        for scenario in SCENARIOS if args.scenario == "all" else (args.scenario,):
            figures = run_scenario(
                scenario, cluster, cluster_settings(cluster), args.home / "runs", seed=args.seed, down_s=args.down_s
            )
            results.append(figures)
            print(figures.line())
            print(f"  replication (RF/min ISR): {figures.replication}")
            for item in (
                figures.judged.audit_problems + figures.judged.state_mismatches + figures.judged.live_differences
            ):
                print(f"  ! {item}")
    finally:
        if not args.keep:
            cluster.stop()
    clean = all(f.clean for f in results)
    print("CLEAN" if clean else "NOT CLEAN")
    return 0 if clean else 1


if __name__ == "__main__":
    raise SystemExit(main())
