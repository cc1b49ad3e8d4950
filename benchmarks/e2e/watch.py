"""Watching a run: what the readers see, when the group commits, and when a run is done or stuck."""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition

from benchmarks.e2e.common import COMMIT_INTERVAL_S, POLL_S, PROGRESS_S, STALL_S, TIMEOUT_S, BenchError, say
from benchmarks.e2e.processes import Processes, cpu_seconds, crash_reason, machine_busy_seconds
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import end_offsets


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
        self.last_offsets: dict[int, int] = {}  # partition -> offset of the last record read
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
                    self.last_offsets[message.partition() or 0] = message.offset() or 0
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
    machine_busy_s: float | None = None  # CPU seconds the whole machine was busy over the same span

    @property
    def cpu_ms_per_input(self) -> float | None:
        return None if self.cpu_s is None or not self.cpu_inputs else self.cpu_s / self.cpu_inputs * 1e3

    @property
    def cores(self) -> float | None:
        """Average CPU cores in use over the window: ~1 per process means CPU-bound."""
        return None if self.cpu_s is None or self.cpu_wall_s <= 0 else self.cpu_s / self.cpu_wall_s

    @property
    def machine_cores(self) -> float | None:
        """Cores the whole machine kept busy over the window (worker, broker, everything): near the core
        count means the machine, not the worker, is the bound."""
        if self.machine_busy_s is None or self.cpu_wall_s <= 0:
            return None
        return self.machine_busy_s / self.cpu_wall_s

    profiled: bool = False
    copy_done_at: float | None = None  # bare loops: when the last input was copied (before its commit)
    applied_at: float | None = None  # the pipeline: when the ledger processor had committed every event

    @property
    def copy_rate(self) -> float | None:
        """Bare loops: inputs per second from ready until the last copy, i.e. without the final commit wait."""
        if self.copy_done_at is None or self.copy_done_at <= self.ready_at:
            return None
        return (self.inputs - self.committed_at_ready) / (self.copy_done_at - self.ready_at)

    @property
    def end_at(self) -> float:
        """The clock stops when *all* the work is done: inputs committed, outputs readable, and (the
        pipeline) every event applied by the ledger processor."""
        return max(self.lag0_at, self.readable_at, self.applied_at or 0.0)

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
            "applied_after_ready_s": None if self.applied_at is None else self.applied_at - self.ready_at,
            "profiled": self.profiled,
            "copy_per_s": self.copy_rate,
            "cpu_s": self.cpu_s,
            "cpu_ms_per_input": self.cpu_ms_per_input,
            "cores": self.cores,
            "machine_cores": self.machine_cores,
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
            say(
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
    applied_by: str | None = None,
) -> Window:
    """Start the processes, wait until the group has committed all ``inputs`` and ``outputs`` records are
    readable (and, with ``applied_by``, until that group has committed every output record: the ledger
    processor has applied every event), check that no more appear, and stop them."""
    ends = end_offsets(settings, input_topic)
    if sum(ends.values()) != inputs:
        raise BenchError(f"{input_topic} holds {sum(ends.values()):,} records, expected {inputs:,}")
    reader = OutputReader(settings, output_topic)
    reader.start()
    reader.started_reading.wait(30)
    sampler = CommitSampler(settings, group, input_topic, ends)
    sampler.start()
    spawned_at = time.time()
    say(f"    {label}: starting, clock from ready")
    try:
        with start() as procs, during(procs) if during else contextlib.nullcontext():
            ready_at = procs.ready_at
            processes = len(procs.pids)
            logs = procs.logs
            spread = procs.ready_spread_s
            cpu_began, wall_began, done_began = cpu_seconds(procs.pids), time.monotonic(), sampler.latest()
            busy_began = machine_busy_seconds()
            guard = _Guard(label, procs, reader, sampler, inputs=inputs, outputs=outputs)
            while True:
                lag0_at = sampler.first_at(inputs)
                readable_at = next((t for t, c in reader.count_at if c >= outputs), None)
                if lag0_at is not None and readable_at is not None:
                    break
                guard.check()
                time.sleep(POLL_S)
            applied_at = _applied(settings, applied_by, output_topic, reader, guard) if applied_by else None
            cpu_ended, wall_s = cpu_seconds(procs.pids), time.monotonic() - wall_began
            busy_ended = machine_busy_seconds()
            cpu_s = None if cpu_began is None or cpu_ended is None else cpu_ended - cpu_began
            busy_s = None if busy_began is None or busy_ended is None else busy_ended - busy_began
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
    window.applied_at = applied_at
    window.machine_busy_s = busy_s
    return window


def _applied(settings: Settings, group: str, topic: str, reader: OutputReader, guard: _Guard) -> float:
    """When ``group`` had committed past the last record of every partition of ``topic`` (a transactional
    topic's end offset counts its markers too, so the target is one past the last *record*)."""
    targets = {p: offset + 1 for p, offset in reader.last_offsets.items()}
    sampler = CommitSampler(settings, group, topic, targets)
    sampler.start()
    try:
        while (at := sampler.first_at(sum(targets.values()))) is None:
            if sampler.error is not None:
                raise BenchError(f"{group} on {topic}: {sampler.error!r}")
            guard.check()
            time.sleep(POLL_S)
        return at
    finally:
        sampler.stop()


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
                say(f"    py-spy: {err.decode(errors='replace').strip().splitlines()[-1:]}")
            except subprocess.TimeoutExpired:
                proc.kill()
