"""The figures as the tables of benchmarks/README.md, and what code and broker produced them."""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
from typing import Any

from benchmarks.e2e.common import COMMIT_INTERVAL_S, LATENCY_DRAIN_S
from streams.broker.launcher import LocalBroker, project_root
from streams.kafka.settings import Settings


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
        f"N={w['commands']:,} P={c['partitions']} W={c['workers']}{' split' if c.get('split') else ''} "
        f"{w['arenas']}x{w['agents_per_arena']:,} agents "
        f"commit {COMMIT_INTERVAL_S}s"
    )
    bare_runs = " / ".join(f"{r['per_s']:,.0f} over {r['seconds']:.1f}s" for r in result["bare_runs"])
    f = result.get("fanout") or {}
    k = result.get("fanout_records_per_input", 1.0)
    applied = p.get("applied_after_ready_s")
    rows = [
        (
            "throughput, ready -> committed, readable, applied by the ledger",
            _n(p["per_s"], " cmd/s"),
            _n(b["per_s"], " msg/s"),
            _fmt_ratio(result["ratio"]),
            f"{settings}; ledger done {applied or 0:.2f}s after ready; copy runs {bare_runs} msg/s{profiled}",
        ),
        (
            f"  vs a loop writing {k:.1f} records per input, as the pipeline",
            _n(p["per_s"], " cmd/s"),
            _n(f.get("per_s"), " in/s"),
            _fmt_ratio(result.get("fanout_ratio")),
            f"over {f.get('seconds', 0):.1f}s; CPU {_ms(f.get('cpu_ms_per_input'))} per input",
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
            f"(~1 per process: CPU-bound); the whole machine {_cores(p.get('machine_cores'))} of "
            f"{os.cpu_count()} busy during the pipeline's window (broker included); noise-robust",
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
