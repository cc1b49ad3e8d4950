"""End-to-end benchmark: the exactly-once Faust worker against a bare transactional copy loop.

    python -m benchmarks.e2e_bench [--commands 20000] [--partitions 4] [--workers 1] [--agents 100]
                                   [--rate auto] [--duration 20] [--scale] [--py-spy FILE] [--json out.json]

Everything runs on the project's cluster (``ensure_cluster``: the local KRaft broker unless
``KAFKA_BOOTSTRAP_SERVERS`` is set), in topics named ``bench-e2e-<run>-<case>-...`` that no one else
uses; they, the worker's changelog topics and the consumer groups are deleted at the end
(``--keep-topics`` keeps them). The commands are a seeded simulation (``producers.simulation``:
arenas set up on day 0, then one RecordPnL per alive agent per day and an evolution cycle every 5
days), decided by the pure core as they are generated, so the number of events the pipeline must
write is known in advance.

Figures (the baseline runs in the same run, on the same broker, over the same messages):

  end to end   N commands are published first (pre-loaded: the producer is not measured), then the
               worker(s) start (``running_worker``, ``--workers`` processes with one app id). The clock
               starts at the (first) worker's "Ready" (its log line's timestamp: after group join and
               table recovery) and stops when the worker's group has committed every command offset
               (lag 0) AND a read_committed reader has seen exactly the expected number of events (then
               1 s more must bring no extra one). Reported: commands/s over that window, the steady rate
               between 20 % and 80 % of the commands committed, the setup (day 0) and trading phases
               separately, the worker's CPU (user+sys from /proc) per command and cores in use (a shared
               machine drifts in wall time, much less in CPU time), and the records it wrote per command.
               Baseline: ``benchmarks.e2e_bare`` (consume read_committed -> produce in a transaction ->
               send_offsets_to_transaction -> commit, on the worker's commit interval) copying the same
               pre-loaded command topic to another topic, same partitions, same number of processes,
               clock from its first assignment to lag 0 and every copy readable. Run before and after
               the pipeline; the faster is the baseline.
  latency      The worker runs and has answered a probe command on every partition; then commands are
               published at a fixed rate (``--rate`` for ``--duration`` s), and a read_committed reader
               notes when each command's first event (by causation id) becomes readable. p50 / p99 / max
               of (readable - published), the first ``--warmup`` s excluded; the JSON has a per-second
               timeline (published, committed, readable). ``--rate auto``: 2,000/s capped to half the
               end-to-end throughput; a run whose backlog exceeds 5 s of offered load is SATURATED,
               stopped and retried at half the rate (latency above saturation only measures the queue).
               Baseline: the bare loop under the same offered load, same commands.
  scale        (``--scale``) the end-to-end figure for partitions x workers (1, 4, 12 x 1, 2) and for one
               arena of 100, 1,000, 10,000 agents (one partition, one worker), with a smaller N; the
               agent rows compare the trading phase, i.e. commands against an arena of that size.

``--py-spy FILE`` profiles the worker(s) during the end-to-end figure (raw collapsed stacks; the figure
is then flagged, since sampling slows the worker) and during the latency figure (FILE-latency);
``--py-spy-idle`` samples waiting threads too (wall time, for a worker that waits rather than computes);
``python -m benchmarks.profile_summary FILE`` ranks what the time went to.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import hashlib
import inspect
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from schemas.commands import encode_command
from streams.broker.cluster import ensure_cluster
from streams.broker.launcher import LocalBroker, project_root
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import end_offsets
from streams.kafka.topics import TopicSpec, create_topics, topic_layout
from streams.worker.process import WorkerHandle, running_worker, worker_env

RESULTS: Final = Path(__file__).resolve().parent / "results"
COMMIT_INTERVAL_S: Final[float] = inspect.signature(worker_env).parameters["commit_interval_s"].default
"""The commit interval ``running_worker`` gives the worker (``worker_env``'s default): the bare loop uses it too."""
SEED: Final = 11
POLL_S: Final = 0.05
PROGRESS_S: Final = 3.0
TIMEOUT_S: Final = 900.0
STALL_S: Final = 60.0
LATENCY_DRAIN_S: Final = 120.0
SATURATION_BACKLOG_S: Final = 5.0
"""--rate auto: more than this many seconds of offered load published but not readable = saturated."""
MIN_RATE: Final = 25.0
"""No progress (commits or readable records) for this long after ready: the run failed (a crashed worker
may stay alive, e.g. a Faust agent that crashed while the process keeps running)."""
DEFAULT_RATE: Final = 2_000.0
SATURATION_SHARE: Final = 0.5
SCALE_PARTITIONS: Final = (1, 4, 12)
SCALE_WORKERS: Final = (1, 2)
SCALE_AGENTS: Final = (100, 1_000, 10_000)
_FAUST_READY = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \[\d+\] \[INFO\] \[\^Worker\]: Ready", re.M)
_BARE_READY = re.compile(r"^READY (\d+\.\d+)", re.M)
_BARE_COMMIT = re.compile(r"^COMMIT \S+ copied=(\d+) last_copy=(\d+\.\d+)", re.M)


class BenchError(RuntimeError):
    """The benchmark could not measure what it claims (a process died, a count is off, a timeout)."""


_T0: Final = time.monotonic()


def _say(text: str) -> None:
    print(f"[{time.monotonic() - _T0:7.1f}s] {text}", file=sys.stderr, flush=True)


# --- workloads ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Encoded:
    key: bytes
    command_id: str
    value: bytes


@dataclass(slots=True)
class Workload:
    """Commands as published, with what the pure core decided for them."""

    config: SimulationConfig
    commands: list[Encoded]
    expected_events: int
    setup_per_partition: dict[int, int]  # day-0 commands, which come first on every partition
    mix: dict[str, int]
    note: str = ""

    @property
    def setup(self) -> int:
        return sum(self.setup_per_partition.values())

    def describe(self) -> str:
        c = self.config
        return (
            f"{len(self.commands):,} commands ({self.setup:,} setup) -> {self.expected_events:,} events; "
            f"{c.arenas} arena(s) x {c.agents_per_arena:,} agents"
        )


def setup_commands(agents: int) -> int:
    """Day 0 of one arena: CreateArena, FundArena, then SpawnAgent + AllocateCapital per founder."""
    return 2 + 2 * agents


def plan(total: int, agents: int, arenas: int, *, trading: int | None = None) -> tuple[int, int, int, str]:
    """(arenas, days, commands) for a workload of about ``total`` commands, or of the setup plus
    ``trading`` commands. Arenas are reduced until the setup is at most half of ``total`` (a
    benchmark of mostly day-0 commands would not be the realistic mix)."""
    note = ""
    if trading is None:
        fitting = max(1, min(arenas, total // (2 * setup_commands(agents))))
        if fitting < arenas:
            note = f"arenas reduced from {arenas} to {fitting} so that setup is at most half the commands"
        arenas = fitting
        setup = arenas * setup_commands(agents)
        trading = total - setup
        if trading < total // 2:
            trading = total // 2
            note = f"one arena's setup is {setup:,} commands: running setup + {trading:,} more"
    setup = arenas * setup_commands(agents)
    days = math.ceil(trading / (arenas * agents)) + 2
    return arenas, days, setup + trading, note


def build_workload(
    commands: int,
    agents: int,
    arenas: int,
    partitions: int,
    *,
    prefix: str = "e2e",
    seed: int = SEED,
    trading: int | None = None,
) -> Workload:
    arenas, days, limit, note = plan(commands, agents, arenas, trading=trading)
    config = SimulationConfig(
        arenas=arenas, agents_per_arena=agents, days=days, seed=seed, partitions=partitions, arena_prefix=prefix
    )
    encoded: list[Encoded] = []
    events = 0
    setup: Counter[int] = Counter()
    mix: Counter[str] = Counter()
    owners: dict[str, int] = {}
    for step in simulate(config, partitioner=partition_for):
        command = step.command
        arena = command.arena_id
        encoded.append(Encoded(arena.encode(), command.command_id, encode_command(command)))
        events += len(step.events)
        mix[command.type] += 1
        if step.day == 0:
            partition = owners.get(arena)
            if partition is None:
                partition = owners[arena] = partition_for(arena, partitions)
            setup[partition] += 1
        if len(encoded) >= limit:
            break
    return Workload(config, encoded, events, dict(setup), dict(mix), note)


# --- topics, groups, processes --------------------------------------------------------------------


def case_settings(base: Settings, prefix: str, partitions: int) -> Settings:
    return replace(base, topics=base.topics.with_prefix(prefix), partitions=partitions)


def create_copy_topic(settings: Settings, name: str) -> None:
    create_topics(
        settings,
        [TopicSpec(name, settings.partitions, settings.replication, "bench: bare copy", {"retention.ms": "86400000"})],
    )


def publish(settings: Settings, topic: str, commands: Sequence[Encoded]) -> float:
    """Publish every command (keyed by arena, murmur2 like the project's producers); seconds taken."""
    began = time.monotonic()
    with CommandPublisher(settings, topic=topic, extra_config={"linger.ms": 20, "batch.num.messages": 10_000}) as out:
        for command in commands:
            out.publish_raw(command.key, command.value)
    held = sum(end_offsets(settings, topic).values())
    if held != len(commands):
        raise BenchError(f"{topic} holds {held:,} records after publishing {len(commands):,}")
    return time.monotonic() - began


def records_written(settings: Settings, prefix: str) -> dict[str, int]:
    """High watermarks summed per topic of the case (records + transaction markers), prefix cut."""
    admin = AdminClient(settings.client_config())
    names = sorted(name for name in admin.list_topics(timeout=30).topics if name.startswith(prefix))
    return {name[len(prefix) :]: sum(end_offsets(settings, name).values()) for name in names}


def _pipeline_records(written: dict[str, int]) -> int:
    """What the worker wrote: events, alerts, DLQ and changelogs (not the commands, not the bare copies)."""
    return sum(n for name, n in written.items() if not name.endswith(("commands", ".out")))


def cleanup(settings: Settings, prefix: str, groups: Sequence[str]) -> None:
    """Delete this run's topics (``prefix``*, incl. the worker's changelogs) and consumer groups."""
    admin = AdminClient(settings.client_config())
    topics = [name for name in admin.list_topics(timeout=30).topics if name.startswith(prefix)]
    if topics:
        for name, future in admin.delete_topics(topics, operation_timeout=60, request_timeout=60).items():
            try:
                future.result()
            except KafkaException as exc:
                _say(f"  could not delete topic {name}: {exc}")
    # A stopped member's group stays "non-empty" until the coordinator has seen it leave: retry a while.
    pending = list(groups)
    deadline = time.monotonic() + 30
    while pending:
        retry: list[str] = []
        for name, future in admin.delete_consumer_groups(pending, request_timeout=30).items():
            try:
                future.result()
            except KafkaException as exc:
                if "NON_EMPTY_GROUP" in str(exc) and time.monotonic() < deadline:
                    retry.append(name)
                elif "GROUP_ID_NOT_FOUND" not in str(exc):  # e.g. a case that failed before it started
                    _say(f"  could not delete group {name}: {exc}")
        pending = retry
        if pending:
            time.sleep(1)


def _faust_ready_at(log: Path) -> float | None:
    match = _FAUST_READY.search(log.read_text(errors="replace"))
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def _bare_copy_done_at(logs: Sequence[Path]) -> float | None:
    """The last copy of any bare loop, from the COMMIT lines of their logs."""
    last = [float(m.group(2)) for log in logs for m in _BARE_COMMIT.finditer(log.read_text(errors="replace"))]
    return max(last) if last else None


def _bare_ready_at(log: Path) -> float | None:
    match = _BARE_READY.search(log.read_text(errors="replace"))
    return float(match.group(1)) if match else None


STOP_GRACE_S: Final = 20.0
stops: list[dict[str, Any]] = []
"""How each process stopped (seconds after SIGTERM, or killed): a hung shutdown is a finding too."""


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], kind: str) -> None:
    """SIGTERM, then SIGKILL after ``STOP_GRACE_S`` (the measurement is over: a slow or hung shutdown must
    not stall the benchmark, ``running_worker`` would wait 60 s); recorded in ``stops``."""
    began = time.monotonic()
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        killed = False
        try:
            proc.wait(max(0.1, STOP_GRACE_S - (time.monotonic() - began)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            killed = True
        seconds = time.monotonic() - began
        stops.append({"kind": kind, "pid": proc.pid, "seconds": seconds, "killed": killed, "rc": proc.returncode})
        if killed:
            _say(f"    {kind} {proc.pid} did not stop within {STOP_GRACE_S:.0f}s of SIGTERM: killed")


def cpu_seconds(pids: Sequence[int]) -> float | None:
    """User + system CPU seconds the processes have used so far (all threads; Linux /proc), None elsewhere."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime: fields 14 and 15 of stat(5)
    return total


def crash_reason(logs: Sequence[Path]) -> str:
    """The first CRITICAL (else ERROR) line of the logs, for a one-line failure."""
    for level in ("[CRITICAL]", "[ERROR]", "Traceback"):
        for log in logs:
            for line in log.read_text(errors="replace").splitlines():
                if level in line:
                    return f"{log.name}: {line.strip()[:300]}"
    return "no error in the logs"


@dataclass
class Processes:
    """Running workers or bare loops: pids, readiness (epoch seconds from their logs), liveness.

    ``ready_at`` is the *first* process's readiness: with the input pre-loaded, work starts there (a
    second process joins a moment later and the group rebalances: part of running two)."""

    pids: list[int]
    ready_at: float
    ready_spread_s: float
    alive: Callable[[], bool]
    log_tail: Callable[[], str]
    logs: list[Path]


@contextlib.contextmanager
def workers(settings: Settings, app_id: str, workdir: Path, count: int) -> Iterator[Processes]:
    """``count`` workers with one app id, started together (each ``running_worker`` blocks until its
    worker is ready, so they are entered from threads); stopped together on exit."""
    managers = [running_worker(settings, app_id, workdir, name=f"worker-{i}") for i in range(count)]
    results: list[WorkerHandle | BaseException | None] = [None] * count

    def enter(i: int) -> None:
        try:
            results[i] = managers[i].__enter__()
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits for this one
            results[i] = exc

    with contextlib.ExitStack() as stack:
        threads = [threading.Thread(target=enter, args=(i,), daemon=True) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        handles: list[WorkerHandle] = []
        for manager, result in zip(managers, results, strict=True):
            if isinstance(result, WorkerHandle):
                stack.push(manager)
                handles.append(result)
        failures = [r for r in results if not isinstance(r, WorkerHandle)]
        if failures:
            raise BenchError(f"a worker did not start: {failures[0]!r}")
        readies = [_faust_ready_at(h.log_path) for h in handles]
        if any(r is None for r in readies):
            raise BenchError("a worker is ready but its log has no timestamped Ready line")
        yield Processes(
            pids=[h.process.pid for h in handles],
            ready_at=min(r for r in readies if r is not None),
            ready_spread_s=max(r for r in readies if r is not None) - min(r for r in readies if r is not None),
            alive=lambda: all(h.alive() for h in handles),
            log_tail=lambda: "\n".join(h.log_tail(2_000) for h in handles),
            logs=[h.log_path for h in handles],
        )
        stop_processes([h.process for h in handles], "worker")


@contextlib.contextmanager
def bare_loops(
    settings: Settings, *, input_topic: str, output_topic: str, group: str, workdir: Path, count: int
) -> Iterator[Processes]:
    """``count`` bare copy loops in one group (``benchmarks.e2e_bare``), ready once each has its assignment."""
    if settings.bootstrap is None:
        raise BenchError("resolve the cluster first")
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": settings.bootstrap}
    logs = [workdir / f"{group}-{i}.log" for i in range(count)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, log in enumerate(logs):
            with log.open("wb") as sink:
                procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "benchmarks.e2e_bare",
                            "--input",
                            input_topic,
                            "--output",
                            output_topic,
                            "--group",
                            group,
                            "--transactional-id",
                            f"{group}-{i}",
                            "--commit-interval",
                            str(COMMIT_INTERVAL_S),
                        ],
                        cwd=project_root(),
                        env=env,
                        stdout=sink,
                        stderr=subprocess.STDOUT,
                    )
                )

        def tail() -> str:
            return "\n".join(log.read_text(errors="replace")[-2_000:] for log in logs)

        deadline = time.monotonic() + 120
        while True:
            readies = [_bare_ready_at(log) for log in logs]
            if all(r is not None for r in readies):
                break
            if any(p.poll() is not None for p in procs):
                raise BenchError(f"a bare loop exited before it was ready:\n{tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"the bare loops were not ready after 120s:\n{tail()}")
            time.sleep(0.05)
        yield Processes(
            pids=[p.pid for p in procs],
            ready_at=min(r for r in readies if r is not None),
            ready_spread_s=max(r for r in readies if r is not None) - min(r for r in readies if r is not None),
            alive=lambda: all(p.poll() is None for p in procs),
            log_tail=tail,
            logs=logs,
        )
    finally:
        stop_processes(procs, "bare loop")


# --- watching a run -------------------------------------------------------------------------------


class OutputReader(threading.Thread):
    """A read_committed reader of every partition of ``topic`` from the beginning: counts records and,
    given ``id_of``, notes the monotonic time each id is first readable."""

    def __init__(self, settings: Settings, topic: str, *, id_of: Callable[[bytes], str] | None = None) -> None:
        super().__init__(daemon=True, name=f"reader-{topic}")
        self.settings = settings
        self.topic = topic
        self.id_of = id_of
        self.count = 0
        self.count_at: list[tuple[float, int]] = []  # (epoch, count) after each non-empty batch
        self.first_seen: dict[str, float] = {}
        self.error: BaseException | None = None
        self.halt = threading.Event()
        self.started_reading = threading.Event()

    def run(self) -> None:
        consumer = Consumer(
            self.settings.client_config(
                {
                    "group.id": f"bench-e2e-reader-{uuid.uuid4().hex[:8]}",  # never committed
                    "enable.auto.commit": False,
                    "enable.auto.offset.store": False,
                    "isolation.level": "read_committed",
                    "fetch.wait.max.ms": 100,  # a read_committed fetch returns as soon as the LSO moves
                }
            )
        )
        try:
            meta = consumer.list_topics(self.topic, timeout=15).topics[self.topic]
            consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in sorted(meta.partitions)])
            self.started_reading.set()
            while not self.halt.is_set():
                batch = consumer.consume(10_000, POLL_S)
                if not batch:
                    continue
                now_mono, now = time.monotonic(), time.time()
                n = 0
                for message in batch:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            continue
                        raise KafkaException(error)
                    n += 1
                    if self.id_of is not None:
                        value = message.value()
                        if value is not None:
                            self.first_seen.setdefault(self.id_of(value), now_mono)
                if n:
                    self.count += n
                    self.count_at.append((now, self.count))
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits for this one
            self.error = exc
        finally:
            self.started_reading.set()
            consumer.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


class CommitSampler(threading.Thread):
    """A group's committed offsets on ``topic``, sampled every ``POLL_S`` by one long-lived client
    (which never joins the group), as (epoch, inputs committed) from before the processes start."""

    def __init__(self, settings: Settings, group: str, topic: str, ends: dict[int, int]) -> None:
        super().__init__(daemon=True, name=f"commits-{group}")
        self.ends = ends
        self.tps = [TopicPartition(topic, p) for p in sorted(ends)]
        self.consumer = Consumer(settings.client_config({"group.id": group, "enable.auto.commit": False}))
        self.samples: list[tuple[float, int]] = []
        self.error: BaseException | None = None
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                committed = self.consumer.committed(self.tps, timeout=10)
                done = sum(min(max(tp.offset, 0), self.ends[tp.partition]) for tp in committed)
                self.samples.append((time.time(), done))
                self.halt.wait(POLL_S)
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits for this one
            self.error = exc
        finally:
            self.consumer.close()

    def latest(self) -> int:
        return self.samples[-1][1] if self.samples else 0

    def first_at(self, count: int) -> float | None:
        return next((t for t, c in self.samples if c >= count), None)

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


@dataclass
class Window:
    """One measured run of a processor over pre-loaded input."""

    label: str
    inputs: int
    outputs: int
    processes: int
    spawned_at: float
    ready_at: float
    lag0_at: float
    readable_at: float
    committed_at_ready: int
    samples: list[tuple[float, int]] = field(default_factory=list)  # (epoch, committed inputs)
    logs: list[Path] = field(default_factory=list)
    ready_spread_s: float = 0.0  # last process ready - first process ready
    cpu_s: float | None = None  # CPU seconds the processes used from ready (as seen) to the end (as seen)
    cpu_inputs: int = 0  # inputs processed over that span
    cpu_wall_s: float = 0.0

    @property
    def cpu_ms_per_input(self) -> float | None:
        return None if self.cpu_s is None or not self.cpu_inputs else self.cpu_s / self.cpu_inputs * 1e3

    @property
    def cores(self) -> float | None:
        """Average CPU cores in use over the window: ~1 per process means CPU-bound."""
        return None if self.cpu_s is None or self.cpu_wall_s <= 0 else self.cpu_s / self.cpu_wall_s

    profiled: bool = False
    copy_done_at: float | None = None  # bare loops: when the last input was copied (before its commit)

    @property
    def copy_rate(self) -> float | None:
        """Bare loops: inputs per second from ready until the last copy, i.e. without the final commit wait."""
        if self.copy_done_at is None or self.copy_done_at <= self.ready_at:
            return None
        return (self.inputs - self.committed_at_ready) / (self.copy_done_at - self.ready_at)

    @property
    def end_at(self) -> float:
        return max(self.lag0_at, self.readable_at)

    @property
    def seconds(self) -> float:
        return self.end_at - self.ready_at

    @property
    def rate(self) -> float:
        """Inputs processed after the clock started, per second of the window."""
        return (self.inputs - self.committed_at_ready) / self.seconds

    @property
    def startup_s(self) -> float:
        return self.ready_at - self.spawned_at

    def rate_between(self, low: int, high: int) -> float | None:
        """Inputs per second between the first samples at or past ``low`` and ``high`` committed
        (exact counts over observed times; None if the samples cannot tell)."""
        first = next(((t, c) for t, c in self.samples if c >= low), None)
        last = next(((t, c) for t, c in self.samples if c >= high), None)
        if first is None or last is None or last[0] <= first[0] or last[1] <= first[1]:
            return None
        return (last[1] - first[1]) / (last[0] - first[0])

    def steady_rate(self) -> float | None:
        return self.rate_between(int(self.inputs * 0.2), int(self.inputs * 0.8))

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "processes": self.processes,
            "seconds": self.seconds,
            "per_s": self.rate,
            "steady_per_s": self.steady_rate(),
            "startup_s": self.startup_s,
            "ready_spread_s": self.ready_spread_s,
            "committed_at_ready": self.committed_at_ready,
            "lag0_after_ready_s": self.lag0_at - self.ready_at,
            "readable_after_ready_s": self.readable_at - self.ready_at,
            "profiled": self.profiled,
            "copy_per_s": self.copy_rate,
            "cpu_s": self.cpu_s,
            "cpu_ms_per_input": self.cpu_ms_per_input,
            "cores": self.cores,
        }


class _Guard:
    """Fails a watched run that cannot finish (a thread or process died, no progress, timeout) and
    prints a progress line every few seconds."""

    def __init__(
        self,
        label: str,
        procs: Processes,
        reader: OutputReader,
        sampler: CommitSampler,
        *,
        inputs: int,
        outputs: int,
    ) -> None:
        self.label, self.procs, self.reader, self.sampler = label, procs, reader, sampler
        self.inputs, self.outputs = inputs, outputs
        now = time.monotonic()
        self.deadline = now + TIMEOUT_S
        self.last_report = now
        self.moved = now
        self.progress = (-1, -1)

    def check(self) -> None:
        label, procs, reader = self.label, self.procs, self.reader
        done, now = self.sampler.latest(), time.monotonic()
        if (done, reader.count) != self.progress:
            self.progress, self.moved = (done, reader.count), now
        for thread in (reader, self.sampler):
            if thread.error is not None:
                raise BenchError(f"{label}: {thread.name} failed: {thread.error!r}")
        if not procs.alive():
            raise BenchError(f"{label}: a process stopped: {crash_reason(procs.logs)}\n{procs.log_tail()}")
        if now > self.deadline:
            raise BenchError(f"{label}: {self.inputs - done:,} inputs unprocessed after {TIMEOUT_S:.0f}s")
        if now - self.moved > STALL_S:
            raise BenchError(
                f"{label}: no progress for {STALL_S:.0f}s at {done:,}/{self.inputs:,} committed, "
                f"{reader.count:,}/{self.outputs:,} readable: {crash_reason(procs.logs)}\n{procs.log_tail()}"
            )
        if now - self.last_report >= PROGRESS_S:
            self.last_report = now
            since = max(time.time() - procs.ready_at, 1e-9)
            _say(
                f"    {label}: {done:>9,}/{self.inputs:,} committed, {reader.count:>9,}/{self.outputs:,} readable "
                f"({done / since:,.0f}/s since ready)"
            )


def watch(
    settings: Settings,
    *,
    label: str,
    group: str,
    input_topic: str,
    output_topic: str,
    inputs: int,
    outputs: int,
    start: Callable[[], contextlib.AbstractContextManager[Processes]],
    during: Callable[[Processes], contextlib.AbstractContextManager[object]] | None = None,
) -> Window:
    """Start the processes, wait until the group has committed all ``inputs`` and ``outputs`` records are
    readable, check that no more appear, and stop them."""
    ends = end_offsets(settings, input_topic)
    if sum(ends.values()) != inputs:
        raise BenchError(f"{input_topic} holds {sum(ends.values()):,} records, expected {inputs:,}")
    reader = OutputReader(settings, output_topic)
    reader.start()
    reader.started_reading.wait(30)
    sampler = CommitSampler(settings, group, input_topic, ends)
    sampler.start()
    spawned_at = time.time()
    _say(f"    {label}: starting, clock from ready")
    try:
        with start() as procs, during(procs) if during else contextlib.nullcontext():
            ready_at = procs.ready_at
            processes = len(procs.pids)
            logs = procs.logs
            spread = procs.ready_spread_s
            cpu_began, wall_began, done_began = cpu_seconds(procs.pids), time.monotonic(), sampler.latest()
            guard = _Guard(label, procs, reader, sampler, inputs=inputs, outputs=outputs)
            while True:
                lag0_at = sampler.first_at(inputs)
                readable_at = next((t for t, c in reader.count_at if c >= outputs), None)
                if lag0_at is not None and readable_at is not None:
                    break
                guard.check()
                time.sleep(POLL_S)
            cpu_ended, wall_s = cpu_seconds(procs.pids), time.monotonic() - wall_began
            cpu_s = None if cpu_began is None or cpu_ended is None else cpu_ended - cpu_began
            time.sleep(max(1.0, 2 * COMMIT_INTERVAL_S))  # anything more (a duplicate) would show up by now
            if reader.count != outputs:
                raise BenchError(f"{label}: {reader.count:,} records readable in {output_topic}, expected {outputs:,}")
    finally:
        sampler.stop()
        reader.stop()
    samples = list(sampler.samples)
    at_ready = max((c for t, c in samples if t <= ready_at), default=0)
    window = Window(
        label, inputs, outputs, processes, spawned_at, ready_at, lag0_at, readable_at, at_ready, samples, logs, spread
    )
    window.cpu_s, window.cpu_inputs, window.cpu_wall_s = cpu_s, inputs - done_began, wall_s
    return window


@contextlib.contextmanager
def py_spy(pids: Sequence[int], path: Path, rate: int, *, idle: bool = False) -> Iterator[None]:
    """py-spy record (raw collapsed stacks, per thread) on each pid while the block runs; ``idle`` also
    samples threads that wait (blocked in a poll or a lock): wall time rather than CPU time."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        raise BenchError("py-spy is not installed (.venv/bin/pip install py-spy)")
    procs = []
    for i, pid in enumerate(pids):
        out = path if len(pids) == 1 else path.with_name(f"{path.stem}-{i}{path.suffix}")
        cmd = [exe, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw", "--threads", "-o", str(out)]
        cmd += ["--idle"] if idle else []
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    try:
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for proc in procs:
            try:
                _out, err = proc.communicate(timeout=60)
                _say(f"    py-spy: {err.decode(errors='replace').strip().splitlines()[-1:]}")
            except subprocess.TimeoutExpired:
                proc.kill()


# --- the figures ----------------------------------------------------------------------------------


@dataclass
class Case:
    """One end-to-end measurement: topics, workload, bare loop(s), worker(s)."""

    name: str
    partitions: int
    workers: int
    agents: int
    arenas: int
    commands: int
    trading: int | None = None
    bare_runs: int = 2


@dataclass(frozen=True)
class LatencyPlan:
    partitions: int
    workers: int
    agents: int
    arenas: int
    rate: float
    duration: float
    warmup: float
    search: bool  # halve the rate while the pipeline saturates (--rate auto)


class Saturated(BenchError):
    """The pipeline fell behind the offered rate: its latency would only measure the queue."""


@dataclass
class CaseResult:
    case: Case
    workload: Workload
    publish_s: float
    pipeline: Window
    bares: list[Window]
    written: dict[str, int] = field(default_factory=dict)  # topic (prefix cut) -> high watermarks summed

    @property
    def bare(self) -> Window:
        return max(self.bares, key=lambda w: w.rate)

    def phase_rates(self) -> tuple[float | None, float | None]:
        """(setup, trading) commands per second of the pipeline, from its commit samples."""
        p = self.pipeline
        setup = self.workload.setup
        setup_done = next((t for t, c in p.samples if c >= setup), None)
        setup_rate = (setup - p.committed_at_ready) / (setup_done - p.ready_at) if setup_done else None
        trading = p.rate_between(setup, p.inputs)
        return setup_rate, trading

    def summary(self) -> dict[str, Any]:
        setup_rate, trading_rate = self.phase_rates()
        w = self.workload
        return {
            "case": asdict(self.case),
            "workload": {
                "commands": len(w.commands),
                "setup_commands": w.setup,
                "events": w.expected_events,
                "arenas": w.config.arenas,
                "agents_per_arena": w.config.agents_per_arena,
                "days": w.config.days,
                "mix": w.mix,
                "note": w.note,
            },
            "publish_s": self.publish_s,
            "pipeline": self.pipeline.summary(),
            "pipeline_setup_per_s": setup_rate,
            "pipeline_trading_per_s": trading_rate,
            "bare_runs": [b.summary() for b in self.bares],
            "bare": self.bare.summary(),
            "bare_copy_per_s": max((b.copy_rate for b in self.bares if b.copy_rate), default=None),
            "ratio": _div(self.pipeline.rate, self.bare.rate),
            "records_written": self.written,
            "pipeline_records_per_command": _pipeline_records(self.written) / len(w.commands),
        }


@dataclass
class Bench:
    base: Settings
    run_id: str
    workdir: Path
    keep_topics: bool
    py_spy_path: Path | None = None
    py_spy_rate: int = 100
    py_spy_idle: bool = False

    def _dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def prefix(self, case: str) -> str:
        return f"bench-e2e-{self.run_id}-{case}-"

    def run_case(self, case: Case) -> CaseResult:
        prefix = self.prefix(case.name)
        settings = case_settings(self.base, prefix, case.partitions)
        app_id = prefix.rstrip("-")
        groups = [app_id] + [f"{app_id}-bare{i}" for i in range(case.bare_runs)]
        _say(f"  [{case.name}] partitions={case.partitions} workers={case.workers} agents={case.agents:,}")
        try:
            workload = build_workload(
                case.commands, case.agents, case.arenas, case.partitions, trading=case.trading, prefix="e2e"
            )
            if workload.note:
                _say(f"    note: {workload.note}")
            _say(f"    workload: {workload.describe()}")
            create_topics(settings, topic_layout(settings))
            publish_s = publish(settings, settings.topics.commands, workload.commands)
            _say(f"    pre-loaded {len(workload.commands):,} commands in {publish_s:.1f}s")
            bares: list[Window] = []
            bare_order = list(range(case.bare_runs))
            first_bares, last_bares = bare_order[: (len(bare_order) + 1) // 2], bare_order[(len(bare_order) + 1) // 2 :]
            for i in first_bares:
                bares.append(self._bare(settings, case, workload, f"{app_id}-bare{i}", f"{prefix}bare{i}.out"))
            pipeline = self._pipeline(settings, case, workload, app_id)
            for i in last_bares:
                bares.append(self._bare(settings, case, workload, f"{app_id}-bare{i}", f"{prefix}bare{i}.out"))
            written = records_written(settings, prefix)
            return CaseResult(case, workload, publish_s, pipeline, bares, written)
        finally:
            if not self.keep_topics:
                cleanup(settings, prefix, groups)

    def _bare(self, settings: Settings, case: Case, workload: Workload, group: str, out_topic: str) -> Window:
        create_copy_topic(settings, out_topic)
        n = len(workload.commands)
        window = watch(
            settings,
            label="bare",
            group=group,
            input_topic=settings.topics.commands,
            output_topic=out_topic,
            inputs=n,
            outputs=n,
            start=lambda: bare_loops(
                settings,
                input_topic=settings.topics.commands,
                output_topic=out_topic,
                group=group,
                workdir=self.workdir,
                count=case.workers,
            ),
        )
        window.copy_done_at = _bare_copy_done_at(window.logs)
        _say(
            f"    bare loop: {window.rate:,.0f} msg/s ({window.seconds:.2f}s from ready, "
            f"startup {window.startup_s:.1f}s)"
        )
        return window

    def _pipeline(self, settings: Settings, case: Case, workload: Workload, app_id: str) -> Window:
        profile = self.py_spy_path

        def during(procs: Processes) -> contextlib.AbstractContextManager[object]:
            if profile is None:
                return contextlib.nullcontext()
            return py_spy(procs.pids, profile, self.py_spy_rate, idle=self.py_spy_idle)

        window = watch(
            settings,
            label="pipeline",
            group=app_id,
            input_topic=settings.topics.commands,
            output_topic=settings.topics.events,
            inputs=len(workload.commands),
            outputs=workload.expected_events,
            start=lambda: workers(settings, app_id, self._dir(case.name), case.workers),
            during=during,
        )
        window.profiled = profile is not None
        dlq = sum(end_offsets(settings, settings.topics.dlq).values())
        if dlq:
            raise BenchError(f"the worker dead-lettered commands ({dlq} records in {settings.topics.dlq})")
        _say(
            f"    pipeline: {window.rate:,.0f} cmd/s ({window.seconds:.2f}s from ready, startup "
            f"{window.startup_s:.1f}s, {window.committed_at_ready:,} committed before ready)"
        )
        return window

    # --- latency ---

    def run_latency(self, plan: LatencyPlan) -> dict[str, Any]:
        """The pipeline at ``plan.rate``; with ``plan.search``, a saturated run (see ``Saturated``) is retried at
        half the rate, down to ``MIN_RATE``. Then the bare loop at the rate the pipeline sustained."""
        rate = plan.rate
        probe = build_workload(4 * plan.partitions, 1, plan.partitions, plan.partitions, prefix="probe", trading=0)
        attempts: list[dict[str, Any]] = []
        results: dict[str, Any] = {}
        workload: Workload | None = None
        for attempt in range(1, 10):
            workload = build_workload(
                max(1, int(rate * plan.duration)), plan.agents, plan.arenas, plan.partitions, prefix="lat"
            )
            _say(f"  [latency] {rate:,.0f} commands/s for {plan.duration:.0f}s: {workload.describe()}")
            try:
                results["pipeline"] = self._latency_kind("pipeline", f"latp{attempt}", plan, workload, probe, rate=rate)
                break
            except Saturated as exc:
                _say(f"    pipeline SATURATED at {rate:,.0f}/s: {exc}")
                attempts.append({"rate_per_s": rate, "saturated": str(exc)})
                if not plan.search or rate / 2 < MIN_RATE:
                    raise
                rate /= 2
                _say(f"    retrying at {rate:,.0f}/s")
        assert workload is not None
        results["bare"] = self._latency_kind("bare", "latb", replace(plan, search=False), workload, probe, rate=rate)
        return {
            "settings": {
                "rate_per_s": rate,
                "requested_rate_per_s": plan.rate,
                "duration_s": plan.duration,
                "warmup_s": plan.warmup,
                "partitions": plan.partitions,
                "workers": plan.workers,
                "commands": len(workload.commands),
                "events": workload.expected_events,
                "arenas": workload.config.arenas,
                "agents_per_arena": plan.agents,
            },
            "saturated_attempts": attempts,
            **results,
        }

    def _latency_kind(
        self, kind: str, case: str, plan: LatencyPlan, workload: Workload, probe: Workload, *, rate: float
    ) -> dict[str, Any]:
        prefix = self.prefix(case)
        settings = case_settings(self.base, prefix, plan.partitions)
        app_id = prefix.rstrip("-")
        try:
            return self._latency_run(
                kind,
                settings,
                app_id=app_id,
                workers_n=plan.workers,
                workload=workload,
                probe=probe,
                rate=rate,
                warmup=plan.warmup,
                saturate_after_s=SATURATION_BACKLOG_S if plan.search else None,
            )
        finally:
            if not self.keep_topics:
                cleanup(settings, prefix, [app_id])

    def _latency_run(
        self,
        kind: str,
        settings: Settings,
        *,
        app_id: str,
        workers_n: int,
        workload: Workload,
        probe: Workload,
        rate: float,
        warmup: float,
        saturate_after_s: float | None,
    ) -> dict[str, Any]:
        commands_topic = settings.topics.commands
        if kind == "pipeline":
            create_topics(settings, topic_layout(settings))
            out_topic = settings.topics.events
            field_name = "causation_id"
            start: contextlib.AbstractContextManager[Processes] = workers(
                settings, app_id, self._dir(f"lat-{kind}"), workers_n
            )
        else:
            create_topics(settings, [spec for spec in topic_layout(settings) if spec.name == commands_topic])
            out_topic = f"{settings.topics.commands}.out"
            create_copy_topic(settings, out_topic)
            field_name = "command_id"
            start = bare_loops(
                settings,
                input_topic=commands_topic,
                output_topic=out_topic,
                group=app_id,
                workdir=self.workdir,
                count=workers_n,
            )

        def id_of(value: bytes) -> str:
            return str(orjson.loads(value)[field_name])

        reader = OutputReader(settings, out_topic, id_of=id_of)
        reader.start()
        reader.started_reading.wait(30)
        # The group's committed offsets over the whole run: a timeline of published/committed/readable.
        ends = dict.fromkeys(range(settings.partitions), 1 << 62)
        sampler = CommitSampler(settings, app_id, commands_topic, ends)
        sampler.start()
        profile = self.py_spy_path
        try:
            with (
                start as procs,
                CommandPublisher(settings, topic=commands_topic) as publisher,
                py_spy(
                    procs.pids, profile.with_stem(f"{profile.stem}-latency"), self.py_spy_rate, idle=self.py_spy_idle
                )
                if profile is not None and kind == "pipeline"
                else contextlib.nullcontext(),
            ):
                # Live end to end before the clock: a probe arena on every partition, its events readable.
                for command in probe.commands:
                    publisher.publish_raw(command.key, command.value)
                publisher.flush()
                if self._await_ids(reader, [c.command_id for c in probe.commands], procs, f"{kind} probe", 120):
                    raise BenchError(f"{kind}: the probe commands never became readable")
                cpu_began, wall_began = cpu_seconds(procs.pids), time.monotonic()
                published = self._paced(
                    publisher,
                    workload.commands,
                    rate=rate,
                    reader=reader,
                    procs=procs,
                    label=kind,
                    max_backlog=None if saturate_after_s is None else max(200, int(rate * saturate_after_s)),
                )
                publisher.flush()
                self._await_ids(reader, [c.command_id for c in workload.commands], procs, kind, LATENCY_DRAIN_S)
                cpu_ended, wall_s = cpu_seconds(procs.pids), time.monotonic() - wall_began
        finally:
            reader.stop()
            sampler.stop()
        cpu_s = None if cpu_began is None or cpu_ended is None else cpu_ended - cpu_began
        began = min(published.values())
        measured = [(cid, at) for cid, at in published.items() if at - began >= warmup]
        never = sum(1 for cid, _at in measured if cid not in reader.first_seen)
        latencies = sorted(
            [(reader.first_seen[cid] - at) * 1_000 for cid, at in measured if cid in reader.first_seen]
            + [math.inf] * never  # not readable by the end of the run: counted, as later than any
        )
        stats: dict[str, Any] = {
            "commands_measured": len(latencies),
            "p50_ms": _percentile(latencies, 0.50),
            "p90_ms": _percentile(latencies, 0.90),
            "p99_ms": _percentile(latencies, 0.99),
            "max_ms": latencies[-1],
            "never_readable": never,
            "mean_ms": None if never else sum(latencies) / len(latencies),
            "achieved_rate_per_s": len(published) / (max(published.values()) - began),
            "cores": None if cpu_s is None else cpu_s / wall_s,
            "cpu_ms_per_command": None if cpu_s is None else cpu_s / len(published) * 1e3,
            "timeline": _timeline(published, reader.first_seen, sampler.samples, len(probe.commands)),
        }
        _say(
            f"    {kind}: p50 {stats['p50_ms']:.0f} ms, p99 {stats['p99_ms']:.0f} ms, max {stats['max_ms']:.0f} ms, "
            f"{never:,} never readable "
            f"over {len(latencies):,} commands ({stats['achieved_rate_per_s']:,.0f}/s offered, "
            f"{_cores(stats['cores'])} cores in use)"
        )
        return stats

    @staticmethod
    def _await_ids(reader: OutputReader, ids: Sequence[str], procs: Processes, label: str, timeout: float) -> int:
        """Wait until every id is readable; returns how many are still not readable after ``timeout``."""
        deadline = time.monotonic() + timeout
        last_report = time.monotonic()
        while True:
            missing = sum(1 for cid in ids if cid not in reader.first_seen)
            if not missing:
                return 0
            if reader.error is not None:
                raise BenchError(f"{label}: reading failed: {reader.error!r}")
            if not procs.alive():
                raise BenchError(f"{label}: a process stopped\n{procs.log_tail()}")
            if time.monotonic() > deadline:
                _say(f"    {label}: {missing:,} of {len(ids):,} commands not readable {timeout:.0f}s after publishing")
                return missing
            if time.monotonic() - last_report >= PROGRESS_S:
                last_report = time.monotonic()
                _say(f"    {label}: waiting for {missing:,} of {len(ids):,} commands")
            time.sleep(0.1)

    @staticmethod
    def _paced(
        publisher: CommandPublisher,
        commands: Sequence[Encoded],
        *,
        rate: float,
        reader: OutputReader,
        procs: Processes,
        label: str,
        max_backlog: int | None = None,
    ) -> dict[str, float]:
        """Publish at ``rate`` per second (bursts every ~2 ms); returns command id -> monotonic publish time.
        Raises ``Saturated`` when more than ``max_backlog`` published commands are not readable yet."""
        published: dict[str, float] = {}
        began = time.monotonic()
        last_report = last_check = began
        i = 0
        n = len(commands)
        while i < n:
            now = time.monotonic()
            due = min(n, int((now - began) * rate) + 1)
            while i < due:
                command = commands[i]
                published[command.command_id] = time.monotonic()
                publisher.publish_raw(command.key, command.value)
                i += 1
            if now - last_check >= 1.0:
                last_check = now
                seen = sum(1 for cid in published if cid in reader.first_seen)
                if max_backlog is not None and i - seen > max_backlog:
                    raise Saturated(
                        f"{i - seen:,} commands published but not readable after {now - began:.0f}s "
                        f"(> {max_backlog:,}, {SATURATION_BACKLOG_S:.0f}s of offered load)"
                    )
                if not procs.alive():
                    raise BenchError(f"{label}: a process stopped\n{procs.log_tail()}")
                if now - last_report >= PROGRESS_S:
                    last_report = now
                    _say(f"    {label}: published {i:,}/{n:,}, readable {seen:,} ({i / (now - began):,.0f}/s offered)")
            time.sleep(0.002)
        return published


def _timeline(
    published: dict[str, float], seen: dict[str, float], commits: Sequence[tuple[float, int]], before: int
) -> list[tuple[int, int, int, int]]:
    """Per second from the first publish: (second, published, committed, readable) so far, cumulative.
    ``published`` and ``seen`` are monotonic times, ``commits`` epoch times (converted here); the
    ``before`` probe commands committed first are subtracted."""
    began = min(published.values())
    shift = time.time() - time.monotonic()
    pub = sorted(published.values())
    read = sorted(t for cid, t in seen.items() if cid in published)
    rows: list[tuple[int, int, int, int]] = []
    end = max(read[-1] if read else began, pub[-1]) - began
    for second in range(int(end) + 2):
        cut = began + second
        committed = max((c for t, c in commits if t - shift <= cut), default=before) - before
        rows.append((second, bisect.bisect_right(pub, cut), max(committed, 0), bisect.bisect_right(read, cut)))
    return rows


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --- report ---------------------------------------------------------------------------------------


def _table(title: str, rows: list[tuple[str, str, str, str, str]]) -> str:
    header = ("figure", "value", "baseline", "ratio", "settings")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [title]

    def fmt(row: tuple[str, str, str, str, str]) -> str:
        a, b, c, d, e = row
        return f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d:>{widths[3]}}  {e}"

    lines.append(fmt(header))
    lines.extend(fmt(row) for row in rows)
    return "\n".join(lines)


def _n(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.0f}{unit}"


def render_e2e(result: dict[str, Any]) -> str:
    p, b, w = result["pipeline"], result["bare"], result["workload"]
    c = result["case"]
    profiled = " PROFILED (py-spy attached)" if p["profiled"] else ""
    settings = (
        f"N={w['commands']:,} P={c['partitions']} W={c['workers']} {w['arenas']}x{w['agents_per_arena']:,} agents "
        f"commit {COMMIT_INTERVAL_S}s"
    )
    bare_runs = " / ".join(f"{r['per_s']:,.0f}" for r in result["bare_runs"])
    rows = [
        (
            "throughput, ready -> all committed+readable",
            _n(p["per_s"], " cmd/s"),
            _n(b["per_s"], " msg/s"),
            _fmt_ratio(result["ratio"]),
            f"{settings}; bare runs {bare_runs} msg/s{profiled}",
        ),
        (
            "capacity: steady rate / bare copy rate",
            _n(p["steady_per_s"], " cmd/s"),
            _n(result["bare_copy_per_s"], " msg/s"),
            _ratio(p["steady_per_s"], result["bare_copy_per_s"]),
            "pipeline: 20 % -> 80 % committed; bare: ready -> last copy, without its final commit wait",
        ),
        (
            "CPU per input (processes' user+sys)",
            _ms(p["cpu_ms_per_input"]),
            _ms(result["bare"]["cpu_ms_per_input"]),
            _ratio(p["cpu_ms_per_input"], result["bare"]["cpu_ms_per_input"]),
            f"cores in use over the window: pipeline {_cores(p['cores'])}, bare {_cores(b['cores'])} "
            "(~1 per process: CPU-bound); noise-robust",
        ),
        (
            "  setup phase (day 0: create, fund, spawn, allocate)",
            _n(result["pipeline_setup_per_s"], " cmd/s"),
            "",
            "",
            f"{w['setup_commands']:,} commands",
        ),
        (
            "  trading phase (PnL, evolution cycles)",
            _n(result["pipeline_trading_per_s"], " cmd/s"),
            "",
            "",
            f"{w['commands'] - w['setup_commands']:,} commands",
        ),
        (
            "records the worker wrote per command",
            f"{result['pipeline_records_per_command']:.1f}",
            "1.0",
            f"{result['pipeline_records_per_command']:.1f}x",
            "high watermarks (incl. transaction markers): "
            + ", ".join(
                f"{name.replace('arena.', '').replace('-changelog', '')} {n:,}"
                for name, n in result["records_written"].items()
                if not name.endswith(("commands", ".out"))
            ),
        ),
        (
            "window (s)",
            f"{p['seconds']:.2f} s",
            f"{b['seconds']:.2f} s",
            f"{p['seconds'] / b['seconds']:.1f}x",
            f"{w['events']:,} events written and read back; pre-load {result['publish_s']:.1f}s",
        ),
        (
            "startup, spawn -> ready",
            f"{p['startup_s']:.1f} s",
            f"{b['startup_s']:.1f} s",
            "",
            f"{p['committed_at_ready']:,} commands committed before ready"
            + (f"; last worker ready {p['ready_spread_s']:.1f}s after the first" if c["workers"] > 1 else ""),
        ),
    ]
    return _table("END TO END (ratio = pipeline / bare; throughput: higher is better)", rows)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} ms"


def _cores(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _fmt_ratio(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio:.3f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.3f}"


def render_latency(result: dict[str, Any]) -> str:
    s, p, b = result["settings"], result["pipeline"], result["bare"]
    settings = (
        f"{s['rate_per_s']:,.0f}/s offered x {s['duration_s']:.0f}s, warm-up {s['warmup_s']:.0f}s excluded, "
        f"n={p['commands_measured']:,}, P={s['partitions']} W={s['workers']}"
    )

    def ms(value: float) -> str:
        return "never" if math.isinf(value) else f"{value:,.0f} ms"

    def times(a: float, b: float) -> str:
        return "-" if math.isinf(a) or math.isinf(b) or b <= 0 else f"{a / b:.1f}x"

    rows = [
        (f"latency {name}", ms(p[key]), ms(b[key]), times(p[key], b[key]), settings)
        for name, key in (("p50", "p50_ms"), ("p99", "p99_ms"), ("max", "max_ms"))
    ]
    for attempt in result.get("saturated_attempts", []):
        rows.append(
            (
                f"SATURATED at {attempt['rate_per_s']:,.0f}/s",
                "-",
                "",
                "",
                f"run stopped, rate halved: {attempt['saturated']}",
            )
        )
    if p["never_readable"] or b["never_readable"]:
        rows.append(
            (
                "never readable",
                f"{p['never_readable']:,}",
                f"{b['never_readable']:,}",
                "",
                f"commands still not readable {LATENCY_DRAIN_S:.0f}s after the last publish (counted as never)",
            )
        )
    rows.append(
        (
            "cores in use while offered",
            _cores(p["cores"]),
            _cores(b["cores"]),
            _ratio(p["cores"], b["cores"]),
            f"CPU per command: pipeline {_ms(p['cpu_ms_per_command'])}, bare {_ms(b['cpu_ms_per_command'])}",
        )
    )
    return _table("LATENCY, published -> first event readable (ratio = pipeline / bare; lower is better)", rows)


def render_scale(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        if "error" in r:
            c = r["case"]
            agents = f" 1x{c['agents']:,}" if c["trading"] is not None else ""
            rows.append((f"P={c['partitions']:>2} W={c['workers']}{agents}", "FAILED", "", "", r["error"][:200]))
            continue
        c, w, p = r["case"], r["workload"], r["pipeline"]
        label = f"P={c['partitions']:>2} W={c['workers']} {w['arenas']}x{w['agents_per_arena']:,}"
        if c["trading"] is not None:
            trading = r["pipeline_trading_per_s"]
            rows.append(
                (
                    f"{label} trading phase",
                    _n(trading, " cmd/s"),
                    _n(r["bare"]["per_s"], " msg/s"),
                    _ratio(trading, r["bare"]["per_s"]),
                    f"{1e6 / trading:,.0f} us/cmd wall; setup {_n(r['pipeline_setup_per_s'])} cmd/s "
                    f"({w['setup_commands']:,}); overall {p['per_s']:,.0f} cmd/s, N={w['commands']:,}"
                    if trading
                    else f"N={w['commands']:,}",
                )
            )
        else:
            rows.append(
                (
                    label,
                    _n(p["per_s"], " cmd/s"),
                    _n(r["bare"]["per_s"], " msg/s"),
                    _fmt_ratio(r["ratio"]),
                    f"N={w['commands']:,} ({w['setup_commands']:,} setup), steady {_n(p['steady_per_s'])} cmd/s, "
                    f"CPU {_ms(p['cpu_ms_per_input'])}/cmd on {_cores(p['cores'])} cores, "
                    f"{p['seconds']:.1f}s, startup {p['startup_s']:.1f}s"
                    + (f" (+{p['ready_spread_s']:.1f}s 2nd)" if c["workers"] > 1 else ""),
                )
            )
    return _table("SCALE (ratio = pipeline / bare; agent rows: commands against an arena of that size)", rows)


def code_fingerprint() -> dict[str, str]:
    """The commit measured, and a hash of each worker file that differs from it (work in progress)."""
    root = project_root()
    facts: dict[str, str] = {}
    try:
        facts["head"] = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "streams", "schemas", "producers"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
    except (OSError, subprocess.CalledProcessError):
        return facts
    for line in changed:
        name = line[3:].strip()
        if name and (root / name).is_file():
            facts[name] = "modified, sha256 " + hashlib.sha256((root / name).read_bytes()).hexdigest()[:16]
    return facts


def broker_version() -> str:
    if Settings.from_env().bootstrap is not None:
        return "unknown (KAFKA_BOOTSTRAP_SERVERS)"
    info = LocalBroker().status()
    return f"Kafka {info.kafka_version}" if info is not None else "unknown"


# --- main -----------------------------------------------------------------------------------------


def _jsonable(value: object) -> object:
    """Strict JSON: an infinite latency (never readable) is written as "never"."""
    if isinstance(value, float) and math.isinf(value):
        return "never"
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _csv_ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def run_scale(bench: Bench, args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    """The end-to-end figure over partitions x workers, then over arena sizes (one table)."""
    n = args.commands or 5_000
    cases = [
        Case(f"p{p}w{w}", p, w, args.agents, args.arenas, n, bare_runs=1)
        for p in args.scale_partitions
        for w in args.scale_workers
    ] + [Case(f"a{a}", 1, 1, a, 1, n, trading=n, bare_runs=1) for a in args.scale_agents]
    scale: list[dict[str, Any]] = []
    report["scale"] = scale
    for i, case in enumerate(cases, 1):
        _say(f"scale case {i}/{len(cases)}")
        try:
            scale.append(bench.run_case(case).summary())
        except BenchError as exc:  # one failed case (e.g. a worker crash) is a finding: the others still run
            reason = str(exc)
            _say(f"    FAILED: {reason[:2_000]}")
            scale.append({"case": asdict(case), "error": reason.splitlines()[0], "detail": reason[:8_000]})
    return [render_scale(scale)]


def run_figures(bench: Bench, args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    """The end-to-end figure, then the latency figure (or one of them, with --only)."""
    tables: list[str] = []
    throughput: float | None = None
    if args.only != "latency":
        case = Case("main", args.partitions, args.workers, args.agents, args.arenas, args.commands or 20_000)
        result = bench.run_case(case).summary()
        report["e2e"] = result
        throughput = result["pipeline"]["per_s"]
        tables.append(render_e2e(result))
    if args.only != "e2e":
        if args.rate != "auto":
            rate = float(args.rate)
            if throughput is not None and rate > throughput:
                _say(f"  warning: {rate:,.0f}/s is above the measured throughput ({throughput:,.0f}/s)")
        elif throughput is not None and SATURATION_SHARE * throughput < DEFAULT_RATE:
            rate = SATURATION_SHARE * throughput
            _say(f"  latency: rate capped to {rate:,.0f}/s, {SATURATION_SHARE:.0%} of {throughput:,.0f} cmd/s")
        else:
            rate = DEFAULT_RATE
        plan = LatencyPlan(
            args.partitions,
            args.workers,
            args.agents,
            args.arenas,
            rate,
            args.duration,
            args.warmup,
            search=args.rate == "auto",
        )
        latency = bench.run_latency(plan)
        report["latency"] = latency
        tables.append(render_latency(latency))
    return tables


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.e2e_bench",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--commands", type=int, help="commands in the end-to-end figure (default 20,000; 5,000 with --scale)"
    )
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1, help="worker processes (one app id); bare loops likewise")
    parser.add_argument("--agents", type=int, default=100, help="agents per arena")
    parser.add_argument(
        "--arenas", type=int, default=12, help="at most this many arenas (fewer if setup would dominate)"
    )
    parser.add_argument(
        "--rate",
        default="auto",
        help=f"latency: offered commands/s (auto: {DEFAULT_RATE:,.0f}, "
        f"capped to {SATURATION_SHARE * 100:.0f}%% of the measured end-to-end throughput, "
        "halved while the pipeline saturates)",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="latency: seconds of offered load")
    parser.add_argument("--warmup", type=float, default=2.0, help="latency: first seconds excluded")
    parser.add_argument("--only", choices=["e2e", "latency"], help="run one figure only")
    parser.add_argument("--scale", action="store_true", help="run the scale matrix instead (smaller N)")
    parser.add_argument("--scale-partitions", type=_csv_ints, default=SCALE_PARTITIONS)
    parser.add_argument("--scale-workers", type=_csv_ints, default=SCALE_WORKERS)
    parser.add_argument("--scale-agents", type=_csv_ints, default=SCALE_AGENTS)
    parser.add_argument("--py-spy", type=Path, help="profile the worker(s) during the end-to-end figure into FILE")
    parser.add_argument("--py-spy-rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--py-spy-idle", action="store_true", help="also sample waiting threads (wall time)")
    parser.add_argument("--json", type=Path, help="report path (default benchmarks/results/e2e-<timestamp>.json)")
    parser.add_argument("--keep-topics", action="store_true", help="keep the run's topics and groups")
    parser.add_argument("--keep-logs", action="store_true", help="keep the worker and bare loop logs")
    args = parser.parse_args(argv)
    if min(args.partitions, args.workers, args.agents, args.arenas) < 1:
        parser.error("--partitions, --workers, --agents and --arenas must be at least 1")

    began = time.monotonic()
    run_id = uuid.uuid4().hex[:6]
    base = ensure_cluster(Settings.from_env(), progress=_say)
    workdir = Path(tempfile.mkdtemp(prefix=f"arena-e2e-{run_id}-"))
    bench = Bench(base, run_id, workdir, args.keep_topics, args.py_spy, args.py_spy_rate, args.py_spy_idle)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    report: dict[str, Any] = {
        "run_id": run_id,
        "started": stamp,
        "settings": {
            "broker": broker_version(),
            "bootstrap": base.bootstrap,
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "commit_interval_s": COMMIT_INTERVAL_S,
            "seed": SEED,
            "argv": sys.argv[1:] if argv is None else argv,
            "code": code_fingerprint(),
        },
    }
    tables: list[str] = []
    ok = False
    _say(f"e2e benchmark run {run_id}: topics bench-e2e-{run_id}-*, logs in {workdir}")
    try:
        tables = run_scale(bench, args, report) if args.scale else run_figures(bench, args, report)
        ok = True
    finally:
        report["wall_s"] = time.monotonic() - began
        report["process_stops"] = stops
        path = args.json or RESULTS / f"e2e-{stamp}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(_jsonable(report), indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
        if ok and not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            _say(f"worker and bare loop logs kept in {workdir}")
    print(
        f"e2e benchmark: {report['settings']['broker']} at {base.bootstrap}, python {report['settings']['python']}, "
        f"{os.cpu_count()} cpus, wall {report['wall_s']:.0f}s"
    )
    print("\n\n".join(tables))
    print(f"\nreport: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
