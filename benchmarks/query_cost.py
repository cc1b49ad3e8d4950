"""What serving queries costs a worker under load: commands/s and CPU per command, without and with a
client asking 50 queries per second.

Each case starts a fresh worker (web endpoints on in both, so only the queries differ) on fresh topics,
publishes the same backlog of commands, and times the worker until the group's lag is 0 on the command
and event topics (every command decided and every event checked). In the "with" case a thread asks
the worker's endpoints at a steady rate the whole time: mostly one arena's breakdown, some agent lists,
the arena list (which the worker gathers from every worker of its group) and /metrics. Cases alternate
(without, with, without, with, ...) so a busy machine's drift falls on both alike; the medians are
compared.

    python -m benchmarks.query_cost                       # 10,000 commands, 50 queries/s, 2 rounds
    python -m benchmarks.query_cost --commands 20000 --rounds 3 --qps 50 --json benchmarks/results/query_cost.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from schemas.commands import encode_command
from streams.broker.cluster import ensure_cluster
from streams.kafka.lag import wait_for_worker
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topics import create_topics, topic_layout
from streams.worker.process import running_worker


@dataclass
class Case:
    queries_per_s: int
    commands: int
    seconds: float
    cpu_s: float
    queries: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # HTTP status (or "error") -> answers
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def commands_per_s(self) -> float:
        return self.commands / self.seconds

    @property
    def cpu_ms_per_command(self) -> float:
        return 1000 * self.cpu_s / self.commands

    def line(self) -> str:
        queries = ""
        if self.queries:
            p50, p99 = _percentile(self.latencies_ms, 50), _percentile(self.latencies_ms, 99)
            answers = ", ".join(f"{status}: {n:,}" for status, n in sorted(self.statuses.items()))
            queries = (
                f"; {self.queries:,} queries ({self.queries / self.seconds:.0f}/s; {answers}), "
                f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )
        return (
            f"{self.queries_per_s:>3} q/s: {self.commands:,} commands in {self.seconds:.1f}s = "
            f"{self.commands_per_s:,.0f} cmd/s, worker CPU {self.cpu_ms_per_command:.2f} ms/command{queries}"
        )


def _percentile(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, len(ordered) * q // 100)]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class QueryLoad(threading.Thread):
    """Asks the worker's endpoints at a steady rate until stopped."""

    def __init__(self, url: str, arenas: list[str], rate: int) -> None:
        super().__init__(name="query-load", daemon=True)
        self._url, self._rate = url, rate
        paths: list[str] = []
        for n, arena in enumerate(arenas * 3):
            paths.append(f"/arenas/{arena}")
            if n % 2 == 0:
                paths.append(f"/arenas/{arena}/agents?tier=incubator&limit=50")
        self._paths = [*paths, "/arenas", "/metrics"]
        self._stopped = threading.Event()
        self.queries = 0
        self.statuses: dict[str, int] = {}
        self.latencies_ms: list[float] = []

    def run(self) -> None:
        period = 1.0 / self._rate
        next_at = time.monotonic()
        n = 0
        while not self._stopped.is_set():
            path = self._paths[n % len(self._paths)]
            n += 1
            began = time.monotonic()
            try:
                with urllib.request.urlopen(self._url + path, timeout=10) as response:
                    response.read()
                    status = str(response.status)
            except urllib.error.HTTPError as exc:  # 404: an arena not created yet, early in the run
                status = str(exc.code)
            except (urllib.error.URLError, TimeoutError, ConnectionError):
                status = "error"
            self.latencies_ms.append(1000 * (time.monotonic() - began))
            self.queries += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
            next_at += period
            self._stopped.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self._stopped.set()
        self.join(15)


def _workload(commands: int, partitions: int) -> tuple[list[tuple[bytes, bytes]], list[str]]:
    agents, arenas = 64, 4
    days = max(3, commands // (arenas * agents) + 2)
    config = SimulationConfig(seed=7, arenas=arenas, agents_per_arena=agents, days=days, partitions=partitions)
    encoded = [(c.arena_id.encode(), encode_command(c)) for c in simulate(config, partitioner=partition_for).commands()]
    encoded = encoded[:commands]
    return encoded, sorted({key.decode() for key, _ in encoded})


def run_case(base: Settings, workdir: Path, commands: list[tuple[bytes, bytes]], arenas: list[str], qps: int) -> Case:
    prefix = f"qc{uuid.uuid4().hex[:8]}-"
    settings = replace(base, topics=base.topics.with_prefix(prefix))
    create_topics(settings, topic_layout(settings))
    app_id = f"{prefix}app"
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with running_worker(settings, app_id, workdir, name=prefix, env={"ARENA_WEB_PORT": str(port)}) as worker:
        _wait_ready(url)
        load = QueryLoad(url, arenas, qps) if qps else None
        cpu_before = _cpu_seconds(worker.process.pid)
        began = time.monotonic()
        if load is not None:
            load.start()
        with CommandPublisher(settings, extra_config={"linger.ms": 20}) as publisher:
            for key, value in commands:
                publisher.publish_raw(key, value)
        wait_for_worker(settings, app_id, timeout_s=1800, poll_s=0.25)
        seconds = time.monotonic() - began
        cpu = _cpu_seconds(worker.process.pid) - cpu_before
        if load is not None:
            load.stop()
    case = Case(queries_per_s=qps, commands=len(commands), seconds=seconds, cpu_s=cpu)
    if load is not None:
        case.queries, case.statuses, case.latencies_ms = load.queries, load.statuses, load.latencies_ms
    return case


def _wait_ready(url: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/ready", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the worker at {url} was not ready after {timeout_s:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.query_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=10_000)
    parser.add_argument("--qps", type=int, default=50, help="queries per second in the 'with' cases")
    parser.add_argument("--rounds", type=int, default=2, help="pairs of cases (without, with)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)

    settings = ensure_cluster(Settings.from_env(), progress=lambda m: print(f"… {m}", file=sys.stderr))
    commands, arenas = _workload(args.commands, settings.partitions)
    workdir = Path(".arena/bench-query-cost")
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"{len(commands):,} commands for {len(arenas)} arenas; {args.rounds} round(s) of without/with {args.qps} q/s")
    cases: list[Case] = []
    for _round in range(args.rounds):
        for qps in (0, args.qps):
            case = run_case(settings, workdir, commands, arenas, qps)
            print(case.line(), flush=True)
            cases.append(case)
    without = [c for c in cases if c.queries_per_s == 0]
    loaded = [c for c in cases if c.queries_per_s]
    rate0 = statistics.median(c.commands_per_s for c in without)
    rate1 = statistics.median(c.commands_per_s for c in loaded)
    cpu0 = statistics.median(c.cpu_ms_per_command for c in without)
    cpu1 = statistics.median(c.cpu_ms_per_command for c in loaded)
    latencies = [ms for c in loaded for ms in c.latencies_ms]
    print(
        f"median: {rate0:,.0f} cmd/s without queries, {rate1:,.0f} cmd/s with {args.qps} q/s "
        f"({100 * (rate1 - rate0) / rate0:+.1f} %); worker CPU {cpu0:.2f} -> {cpu1:.2f} ms/command "
        f"({100 * (cpu1 - cpu0) / cpu0:+.1f} %); query p50 {_percentile(latencies, 50):.1f} ms, "
        f"p99 {_percentile(latencies, 99):.1f} ms"
    )
    if args.json:
        document = {
            "commands": len(commands),
            "qps": args.qps,
            "median_commands_per_s": {"without": rate0, "with": rate1},
            "median_cpu_ms_per_command": {"without": cpu0, "with": cpu1},
            "cases": [{**asdict(c), "latencies_ms": None} for c in cases],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
