"""The commands a run publishes: a seeded simulation, decided by the pure core as it is generated, so the
events the pipeline must write are known in advance."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from benchmarks.e2e.common import SEED
from producers.simulation import SimulationConfig, simulate
from schemas.commands import encode_command
from streams.kafka.partitioning import partition_for


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
