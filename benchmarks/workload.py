"""A realistic, reproducible command workload for one arena, as the bytes engines would send.

One arena, ``agents`` agents spawned and funded on day 0, then for each day one ``RecordPnL`` per
alive agent (a trading fill with its own ``fill_ref``) and an evolution cycle every ``cycle_every``
days. Each agent's PnL is an integer drift set by its genome plus seeded noise, so some agents earn,
some bleed, and cycles cull, promote and refill.

The generator executes the commands as it writes them (with the pure core), so that every day's
PnL goes to the agents that are actually alive then, and losses never exceed balances by more than
an occasional, realistic rejection. ``random.Random(seed)`` drives the synthetic market only; money is
integer minor units throughout.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson

from schemas.commands import parse_command
from streams.domain import ArenaState, execute

GENES = ("lookback", "threshold", "risk", "momentum", "mean_revert", "stop_loss")


@dataclass
class Workload:
    arena_id: str
    commands: list[bytes]
    settings: dict[str, int]
    mix: Counter[str] = field(default_factory=Counter)


def policies(agents: int) -> dict[str, Any]:
    """Tiers sized so the whole population fits and a cycle has room to promote and refill."""
    return {
        "tier_policy": {
            "incubator": {"max_agents": agents * 2, "max_allocation": 1_000_000, "budget_bps": 3_000},
            "proving": {"max_agents": max(1, agents // 2), "max_allocation": 4_000_000, "budget_bps": 3_000},
            "arena": {"max_agents": max(1, agents // 10), "max_allocation": 20_000_000, "budget_bps": 3_000},
        },
        "evolution_policy": {
            "min_records": 3,
            "kill_bottom_bps": 500,
            "max_drawdown_bps": 3_000,
            "to_proving": {"min_records": 5, "min_return_bps": 100},
            "to_arena": {"min_records": 15, "min_return_bps": 300},
            "target_population": agents,
            "mutation_step": 500,
            "command_id_window": 10_000,
            "fill_ref_window": 100_000,
        },
    }


def _drift(genome: dict[str, int]) -> int:
    """Daily expected PnL in minor units: genes push it up or down (integer arithmetic only)."""
    return (genome.get("momentum", 0) - genome.get("mean_revert", 0)) // 2_000 + genome.get("risk", 0) // 5_000


def generate(agents: int = 1_000, days: int = 30, seed: int = 1, cycle_every: int = 5) -> Workload:
    arena_id = "bench-arena"
    rng = random.Random(seed)
    state = ArenaState.empty(arena_id)
    commands: list[bytes] = []
    mix: Counter[str] = Counter()
    clock = 1_700_000_000_000

    def send(type_: str, **fields: object) -> None:
        nonlocal state, clock
        clock += 1
        raw = orjson.dumps(
            {"type": type_, "command_id": f"w-{len(commands)}", "arena_id": arena_id, "issued_at": clock, **fields}
        )
        commands.append(raw)
        mix[type_] += 1
        state = execute(state, parse_command(raw)).state

    send("CreateArena", currency="EUR", seed=seed, **policies(agents))
    send("FundArena", amount={"amount": agents * 2_000_000, "currency": "EUR"})
    for n in range(agents):
        genome = {gene: rng.randint(-100_000, 100_000) for gene in rng.sample(GENES, rng.randint(3, len(GENES)))}
        send("SpawnAgent", agent_id=f"agent-{n}", genome=genome)
        send("AllocateCapital", agent_id=f"agent-{n}", amount={"amount": 500_000, "currency": "EUR"})
    for day in range(1, days + 1):
        for agent in list(state.alive_agents()):
            amount = _drift(dict(agent.genome)) + rng.randint(-8_000, 8_000)
            send(
                "RecordPnL",
                agent_id=agent.agent_id,
                amount={
                    "amount": max(amount, -agent.balance) if rng.randrange(1_000) else amount,  # 0.1 % overdraw
                    "currency": "EUR",
                },
                period=day,
                source="trading",
                fill_ref=f"fill-{day}-{agent.agent_id}",
            )
        if day % cycle_every == 0:
            send("RunEvolutionCycle", cycle=day // cycle_every)
    settings = {"agents": agents, "days": days, "seed": seed, "cycle_every": cycle_every}
    return Workload(arena_id=arena_id, commands=commands, settings=settings, mix=mix)
