"""The end-to-end figures, the latency figure and the scale matrix, as one command: `python -m benchmarks.e2e`."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.e2e.common import (
    COMMIT_INTERVAL_S,
    DEFAULT_RATE,
    RESULTS,
    SATURATION_SHARE,
    SCALE_AGENTS,
    SCALE_PARTITIONS,
    SCALE_WORKERS,
    SEED,
    BenchError,
    say,
)
from benchmarks.e2e.figures import Bench, Case, LatencyPlan
from benchmarks.e2e.processes import stops
from benchmarks.e2e.report import broker_version, code_fingerprint, render_e2e, render_latency, render_scale
from streams.broker.cluster import ensure_cluster
from streams.kafka.settings import Settings


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
        say(f"scale case {i}/{len(cases)}")
        try:
            scale.append(bench.run_case(case).summary())
        except BenchError as exc:  # one failed case (e.g. a worker crash) is a finding: the others still run
            reason = str(exc)
            say(f"    FAILED: {reason[:2_000]}")
            scale.append({"case": asdict(case), "error": reason.splitlines()[0], "detail": reason[:8_000]})
    return [render_scale(scale)]


def run_figures(bench: Bench, args: argparse.Namespace, report: dict[str, Any]) -> list[str]:
    """The end-to-end figure, then the latency figure (or one of them, with --only)."""
    tables: list[str] = []
    throughput: float | None = None
    if args.only != "latency":
        case = Case(
            "main", args.partitions, args.workers, args.agents, args.arenas, args.commands or 20_000, split=args.split
        )
        result = bench.run_case(case).summary()
        report["e2e"] = result
        throughput = result["pipeline"]["per_s"]
        tables.append(render_e2e(result))
    if args.only != "e2e":
        if args.rate != "auto":
            rate = float(args.rate)
            if throughput is not None and rate > throughput:
                say(f"  warning: {rate:,.0f}/s is above the measured throughput ({throughput:,.0f}/s)")
        elif throughput is not None and SATURATION_SHARE * throughput < DEFAULT_RATE:
            rate = SATURATION_SHARE * throughput
            say(f"  latency: rate capped to {rate:,.0f}/s, {SATURATION_SHARE:.0%} of {throughput:,.0f} cmd/s")
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.e2e",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--commands", type=int, help="commands in the end-to-end figure (default 20,000; 5,000 with --scale)"
    )
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument(
        "--split", action="store_true", help="run the command and ledger roles as separate processes per worker"
    )
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if min(args.partitions, args.workers, args.agents, args.arenas) < 1:
        parser.error("--partitions, --workers, --agents and --arenas must be at least 1")

    began = time.monotonic()
    run_id = uuid.uuid4().hex[:6]
    base = ensure_cluster(Settings.from_env(), progress=say)
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
    say(f"e2e benchmark run {run_id}: topics bench-e2e-{run_id}-*, logs in {workdir}")
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
            say(f"worker and bare loop logs kept in {workdir}")
    print(
        f"e2e benchmark: {report['settings']['broker']} at {base.bootstrap}, python {report['settings']['python']}, "
        f"{os.cpu_count()} cpus, wall {report['wall_s']:.0f}s"
    )
    print("\n\n".join(tables))
    print(f"\nreport: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
