"""Topics, consumer groups and the processes of a run: the worker(s) under test and the bare copy loop."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from benchmarks.e2e.common import _BARE_COMMIT, _BARE_READY, _FAUST_READY, COMMIT_INTERVAL_S, BenchError, say
from benchmarks.e2e.workload import Encoded
from producers.publisher import CommandPublisher
from streams.broker.launcher import project_root
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import end_offsets
from streams.kafka.topics import TopicSpec, create_topics
from streams.worker.process import WorkerHandle, running_worker


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
    return sum(n for name, n in written.items() if not name.endswith(("commands", ".out", ".in")))


def cleanup(settings: Settings, prefix: str, groups: Sequence[str]) -> None:
    """Delete this run's topics (``prefix``*, incl. the worker's changelogs) and consumer groups."""
    admin = AdminClient(settings.client_config())
    topics = [name for name in admin.list_topics(timeout=30).topics if name.startswith(prefix)]
    if topics:
        for name, future in admin.delete_topics(topics, operation_timeout=60, request_timeout=60).items():
            try:
                future.result()
            except KafkaException as exc:
                say(f"  could not delete topic {name}: {exc}")
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
                    say(f"  could not delete group {name}: {exc}")
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
            say(f"    {kind} {proc.pid} did not stop within {STOP_GRACE_S:.0f}s of SIGTERM: killed")


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


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent not idle so far, every core together (Linux /proc/stat):
    the worker, the broker, the load generator and anything else running. Over a window, divided by
    its wall time, it says how many cores were busy: about the machine's core count means saturated."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    ticks = [int(value) for value in fields[1:9]]  # user nice system idle iowait irq softirq steal
    busy = sum(ticks) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


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
def workers(settings: Settings, app_id: str, workdir: Path, count: int, *, split: bool = False) -> Iterator[Processes]:
    """``count`` workers with one app id, started together (each ``running_worker`` blocks until its
    worker is ready, so they are entered from threads); stopped together on exit. ``split``: each worker
    is two processes, one per role (commands, ledger)."""
    roles = ["commands", "ledger"] if split else ["all"]
    managers = [
        running_worker(
            settings,
            app_id,
            workdir,
            name=f"worker-{i}-{role}",
            env={"ARENA_WORKER_ROLE": role, "ARENA_COMMIT_INTERVAL_S": str(COMMIT_INTERVAL_S)},
        )
        for i in range(count)
        for role in roles
    ]
    count = len(managers)
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
    settings: Settings,
    *,
    input_topic: str,
    output_topic: str,
    group: str,
    workdir: Path,
    count: int,
    fanout: float = 1.0,
) -> Iterator[Processes]:
    """``count`` bare copy loops in one group (``benchmarks.e2e.bare_loop``), ready once each has its assignment."""
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
                            "benchmarks.e2e.bare_loop",
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
                            "--fanout",
                            str(fanout),
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
