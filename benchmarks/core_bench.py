"""Core benchmark: decide + evolve against the cost of merely decoding the same commands.

    python -m benchmarks.core_bench [--agents 1000 --days 30 --seed 1 --repeat 3 --json out.json]

Figures (best of ``--repeat`` runs, one process, same command bytes):
  baseline  parse_command on every message (JSON decode + validation): the floor any consumer pays;
  core      execute() on pre-parsed commands: duplicate check, decide, sealing (postings, sha256 hash
            chain), evolve and the core's conservation check; the figure the 100k commands/s target is
            about;
  pipeline  parse_command + execute + encode_event of every event: what the command processor does
            per message before Kafka.
  book      Book.apply of every event decoded with its digest (what the ledger processor and audit do).
Scaling: execute() per RecordPnL at 100 vs 10,000 agents in the arena (should be flat: O(log n)).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from benchmarks.workload import Workload, generate, policies
from schemas.commands import Command, parse_command
from schemas.events import Event, decode_event_with_digest, encode_event
from streams.domain import ArenaState, Book, execute


def _best(repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def _parse_all(raws: list[bytes]) -> list[Command]:
    return [parse_command(raw) for raw in raws]


def _execute_all(arena_id: str, commands: list[Command]) -> int:
    """Events are counted, not kept: a processor publishes and drops them (keeping 40k events alive
    would time the garbage collector instead of the core)."""
    state = ArenaState.empty(arena_id)
    produced = 0
    for command in commands:
        outcome = execute(state, command)
        produced += len(outcome.events)
        state = outcome.state
    return produced


def _events_of(arena_id: str, commands: list[Command]) -> list[Event]:
    state = ArenaState.empty(arena_id)
    events: list[Event] = []
    for command in commands:
        outcome = execute(state, command)
        events.extend(outcome.events)
        state = outcome.state
    return events


def _pipeline(arena_id: str, raws: list[bytes]) -> int:
    state = ArenaState.empty(arena_id)
    written = 0
    for raw in raws:
        outcome = execute(state, parse_command(raw))
        for event in outcome.events:
            written += len(encode_event(event))
        state = outcome.state
    return written


def _book(raws: list[bytes]) -> int:
    book = Book()
    alerts = 0
    for raw in raws:
        event, digest = decode_event_with_digest(raw)
        alerts += len(book.apply(event, digest))
    return alerts


def _per_type(arena_id: str, commands: list[Command]) -> dict[str, float]:
    """Mean microseconds of execute() per command type (one pass; shows what the total is made of)."""
    state = ArenaState.empty(arena_id)
    spent: dict[str, float] = {}
    count: dict[str, int] = {}
    clock = time.perf_counter
    for command in commands:
        start = clock()
        state = execute(state, command).state
        spent[command.type] = spent.get(command.type, 0.0) + clock() - start
        count[command.type] = count.get(command.type, 0) + 1
    return {kind: spent[kind] / count[kind] * 1e6 for kind in spent}


def _state_with(agents: int) -> ArenaState:
    state = ArenaState.empty("scale")
    clock = 0

    def run(type_: str, **fields: object) -> None:
        nonlocal state, clock
        clock += 1
        doc = {"type": type_, "command_id": f"s-{clock}", "arena_id": "scale", "issued_at": clock, **fields}
        state = execute(state, parse_command(orjson.dumps(doc))).state

    run("CreateArena", currency="EUR", seed=1, **policies(agents))
    run("FundArena", amount={"amount": agents * 1_000_000, "currency": "EUR"})
    for n in range(agents):
        run("SpawnAgent", agent_id=f"agent-{n}", genome={"risk": n % 100})
        run("AllocateCapital", agent_id=f"agent-{n}", amount={"amount": 500_000, "currency": "EUR"})
    return state


def _scaling(sizes: tuple[int, ...], commands: int, repeat: int) -> dict[int, float]:
    """Microseconds per RecordPnL with ``size`` agents in the arena."""
    result: dict[int, float] = {}
    for size in sizes:
        state = _state_with(size)
        batch = [
            parse_command(
                orjson.dumps(
                    {
                        "type": "RecordPnL",
                        "command_id": f"p-{i}",
                        "arena_id": "scale",
                        "issued_at": i,
                        "agent_id": f"agent-{(i * 7919) % size}",
                        "amount": {"amount": (i % 201) - 100, "currency": "EUR"},
                        "period": i,
                        "source": "trading",
                        "fill_ref": f"f-{i}",
                    }
                )
            )
            for i in range(commands)
        ]

        def run(state: ArenaState = state, batch: list[Command] = batch) -> None:
            for command in batch:
                state = execute(state, command).state

        result[size] = _best(repeat, run) / commands * 1e6
    return result


def measure(workload: Workload, repeat: int, scaling: bool) -> dict[str, Any]:
    raws = workload.commands
    n = len(raws)
    parsed = _parse_all(raws)
    events = _events_of(workload.arena_id, parsed)
    event_bytes = [encode_event(e) for e in events]
    del events
    seconds = {
        "baseline": _best(repeat, lambda: _parse_all(raws)),
        "core": _best(repeat, lambda: _execute_all(workload.arena_id, parsed)),
        "pipeline": _best(repeat, lambda: _pipeline(workload.arena_id, raws)),
        "book": _best(repeat, lambda: _book(event_bytes)),
    }
    report: dict[str, Any] = {
        "settings": {**workload.settings, "repeat": repeat, "python": sys.version.split()[0]},
        "commands": n,
        "events": len(event_bytes),
        "mix": dict(workload.mix),
        "seconds": seconds,
        "commands_per_s": {k: n / v for k, v in seconds.items() if k != "book"},
        "events_per_s_book": len(event_bytes) / seconds["book"],
        "ratio_to_baseline": {k: v / seconds["baseline"] for k, v in seconds.items()},
    }
    report["us_per_command_type"] = _per_type(workload.arena_id, parsed)
    if scaling:
        per_command = _scaling((100, 10_000), 5_000, repeat)
        report["scaling_us_per_record_pnl"] = {str(k): v for k, v in per_command.items()}
    return report


def render(report: dict[str, Any]) -> str:
    s = report["settings"]
    lines = [
        f"core benchmark: agents={s['agents']} days={s['days']} seed={s['seed']} cycle_every={s['cycle_every']} "
        f"repeat={s['repeat']} python={s['python']}",
        f"workload: {report['commands']} commands -> {report['events']} events; mix {report['mix']}",
        "",
        f"{'figure':<44}{'seconds':>10}{'ratio':>9}{'per second':>16}",
    ]
    labels = {
        "baseline": "baseline: parse_command",
        "core": "core: execute (decide+seal+evolve+check)",
        "pipeline": "pipeline: parse + execute + encode events",
    }
    for key, label in labels.items():
        lines.append(
            f"{label:<44}{report['seconds'][key]:>10.3f}{report['ratio_to_baseline'][key]:>8.2f}x"
            f"{report['commands_per_s'][key]:>12,.0f} cmd"
        )
    lines.append(
        f"{'book: decode+verify+apply every event':<44}{report['seconds']['book']:>10.3f}"
        f"{report['ratio_to_baseline']['book']:>8.2f}x{report['events_per_s_book']:>12,.0f} evt"
    )
    lines.append("")
    lines.append(
        "execute() mean per type: "
        + ", ".join(f"{kind} {us:,.0f} us" for kind, us in sorted(report["us_per_command_type"].items()))
    )
    if "scaling_us_per_record_pnl" in report:
        scale = report["scaling_us_per_record_pnl"]
        lines.append(
            "scaling, execute(RecordPnL): "
            + ", ".join(f"{k} agents {v:.1f} us" for k, v in scale.items())
            + f" (ratio {scale['10000'] / scale['100']:.2f})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.core_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cycle-every", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-scaling", action="store_true", help="skip the 100 vs 10,000 agents figure")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    workload = generate(args.agents, args.days, args.seed, args.cycle_every)
    report = measure(workload, args.repeat, scaling=not args.no_scaling)
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
