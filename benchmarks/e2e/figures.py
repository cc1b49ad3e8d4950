"""The figures: one case is a pipeline run and its baseline over the same messages, in the same run."""

from __future__ import annotations

import bisect
import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from benchmarks.e2e.common import LATENCY_DRAIN_S, MIN_RATE, PROGRESS_S, SATURATION_BACKLOG_S, BenchError, say
from benchmarks.e2e.processes import (
    Processes,
    _bare_copy_done_at,
    _pipeline_records,
    bare_loops,
    case_settings,
    cleanup,
    cpu_seconds,
    create_copy_topic,
    publish,
    records_written,
    workers,
)
from benchmarks.e2e.report import _cores
from benchmarks.e2e.watch import CommitSampler, OutputReader, Window, py_spy, watch
from benchmarks.e2e.workload import Encoded, Workload, build_workload
from producers.publisher import CommandPublisher
from streams.kafka.settings import Settings, ledger_app_id_of
from streams.kafka.topic_reader import end_offsets
from streams.kafka.topics import create_topics, topic_layout


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
    split: bool = False  # the command and ledger roles in separate processes


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


MIN_BASELINE_S = 5.0
"""A baseline runs over at least this many seconds of messages: a half-second run is not a stable figure."""


@dataclass
class CaseResult:
    case: Case
    workload: Workload
    publish_s: float
    pipeline: Window
    bares: list[Window]  # the 1-in/1-out copy loop (pilot over the commands, then sized for MIN_BASELINE_S)
    written: dict[str, int] = field(default_factory=dict)  # topic (prefix cut) -> high watermarks summed
    fanout: Window | None = None  # the loop writing as many records per input as the pipeline did
    fanout_records: float = 1.0

    @property
    def bare(self) -> Window:
        """The copy loop's longest run (the sized one): the stable figure."""
        return max(self.bares, key=lambda w: w.seconds)

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
            "bare_copy_per_s": self.bare.copy_rate,
            "ratio": _div(self.pipeline.rate, self.bare.rate),
            "fanout": None if self.fanout is None else self.fanout.summary(),
            "fanout_records_per_input": self.fanout_records,
            "fanout_ratio": None if self.fanout is None else _div(self.pipeline.rate, self.fanout.rate),
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
        groups = [app_id, ledger_app_id_of(app_id)] + [
            f"{app_id}-{kind}{i}" for kind in ("bare", "fan") for i in range(3)
        ]
        say(f"  [{case.name}] partitions={case.partitions} workers={case.workers} agents={case.agents:,}")
        try:
            workload = build_workload(
                case.commands, case.agents, case.arenas, case.partitions, trading=case.trading, prefix="e2e"
            )
            if workload.note:
                say(f"    note: {workload.note}")
            say(f"    workload: {workload.describe()}")
            create_topics(settings, topic_layout(settings))
            publish_s = publish(settings, settings.topics.commands, workload.commands)
            say(f"    pre-loaded {len(workload.commands):,} commands in {publish_s:.1f}s")
            pipeline = self._pipeline(settings, case, workload, app_id)
            written = records_written(settings, prefix)
            per_command = _pipeline_records(written) / len(workload.commands)
            copies = self._baseline(settings, case, workload, prefix, f"{app_id}-bare", fanout=1.0)
            fanned = self._baseline(settings, case, workload, prefix, f"{app_id}-fan", fanout=per_command)
            result = CaseResult(case, workload, publish_s, pipeline, copies, written)
            result.fanout, result.fanout_records = fanned[-1], per_command
            return result
        finally:
            if not self.keep_topics:
                cleanup(settings, prefix, groups)

    def _baseline(
        self, settings: Settings, case: Case, workload: Workload, prefix: str, group: str, *, fanout: float
    ) -> list[Window]:
        """A pilot over the commands, then runs over enough copies of them to last ``MIN_BASELINE_S``."""
        kind = "copy" if fanout == 1.0 else f"fan-out x{fanout:.1f}"
        n = len(workload.commands)
        runs = [
            self._bare(
                settings, case, settings.topics.commands, n, group=f"{group}0", out_topic=f"{group}0.out", fanout=fanout
            )
        ]
        for attempt in (1, 2, 3):
            if runs[-1].seconds >= MIN_BASELINE_S:
                break
            # A short run understates the rate (its start and final commit weigh more): aim well past it.
            rate = max(runs[-1].rate, runs[-1].copy_rate or 0.0)
            size = math.ceil(rate * MIN_BASELINE_S * 1.6) + n
            source = f"{prefix}{group.rsplit('-', 1)[-1]}{attempt}.in"
            create_copy_topic(settings, source)
            repeated = [workload.commands[i % n] for i in range(size)]
            say(f"    {kind} baseline: {size:,} inputs for {MIN_BASELINE_S:.0f}+ s (pilot {runs[-1].seconds:.2f}s)")
            publish(settings, source, repeated)
            runs.append(
                self._bare(
                    settings,
                    case,
                    source,
                    size,
                    group=f"{group}{attempt}",
                    out_topic=f"{group}{attempt}.out",
                    fanout=fanout,
                )
            )
        if runs[-1].seconds < MIN_BASELINE_S:
            say(f"    note: the {kind} baseline ran {runs[-1].seconds:.2f}s, under {MIN_BASELINE_S:.0f}s")
        return runs

    def _bare(
        self, settings: Settings, case: Case, source: str, n: int, *, group: str, out_topic: str, fanout: float
    ) -> Window:
        create_copy_topic(settings, out_topic)
        window = watch(
            settings,
            label="bare" if fanout == 1.0 else "fan-out",
            group=group,
            input_topic=source,
            output_topic=out_topic,
            inputs=n,
            outputs=copies_of(settings, source, fanout),
            start=lambda: bare_loops(
                settings,
                input_topic=source,
                output_topic=out_topic,
                group=group,
                workdir=self.workdir,
                count=case.workers,
                fanout=fanout,
            ),
        )
        window.copy_done_at = _bare_copy_done_at(window.logs)
        say(
            f"    {window.label} loop: {window.rate:,.0f} inputs/s over {window.seconds:.2f}s "
            f"({window.cpu_ms_per_input or 0:.3f} ms CPU/input, startup {window.startup_s:.1f}s)"
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
            start=lambda: workers(settings, app_id, self._dir(case.name), case.workers, split=case.split),
            during=during,
            applied_by=ledger_app_id_of(app_id),
        )
        window.profiled = profile is not None
        dlq = sum(end_offsets(settings, settings.topics.dlq).values())
        if dlq:
            raise BenchError(f"the worker dead-lettered commands ({dlq} records in {settings.topics.dlq})")
        alerts = sum(end_offsets(settings, settings.topics.alerts).values())
        if alerts:
            raise BenchError(f"the ledger processor raised alerts ({alerts} records in {settings.topics.alerts})")
        say(
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
            say(f"  [latency] {rate:,.0f} commands/s for {plan.duration:.0f}s: {workload.describe()}")
            try:
                results["pipeline"] = self._latency_kind("pipeline", f"latp{attempt}", plan, workload, probe, rate=rate)
                break
            except Saturated as exc:
                say(f"    pipeline SATURATED at {rate:,.0f}/s: {exc}")
                attempts.append({"rate_per_s": rate, "saturated": str(exc)})
                if not plan.search or rate / 2 < MIN_RATE:
                    raise
                rate /= 2
                say(f"    retrying at {rate:,.0f}/s")
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
        say(
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
                say(f"    {label}: {missing:,} of {len(ids):,} commands not readable {timeout:.0f}s after publishing")
                return missing
            if time.monotonic() - last_report >= PROGRESS_S:
                last_report = time.monotonic()
                say(f"    {label}: waiting for {missing:,} of {len(ids):,} commands")
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
                    say(f"    {label}: published {i:,}/{n:,}, readable {seen:,} ({i / (now - began):,.0f}/s offered)")
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


def copies_of(settings: Settings, topic: str, fanout: float) -> int:
    """How many records the bare loop writes for ``topic``'s inputs (benchmarks/e2e/bare_loop.py: offset o
    gets floor((o+1)K) - floor(oK) copies, so a partition of n inputs gets floor(nK))."""
    return sum(math.floor(n * fanout) for n in end_offsets(settings, topic).values())
