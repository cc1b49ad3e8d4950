"""Command histories shared by the integration tests, and what the pure core says they produce."""

from __future__ import annotations

from schemas.commands import Command
from schemas.events import encode_event
from streams.domain import ArenaState, execute
from tests.support.builders import command, money, small_policies


def arena_commands(arena: str, salt: int) -> list[Command]:
    cmds: list[Command] = [
        command("CreateArena", arena_id=arena, currency="EUR", seed=salt, **small_policies()),
        command("FundArena", arena_id=arena, amount=money(1_000_000)),
    ]
    for n in range(3):
        cmds.append(command("SpawnAgent", arena_id=arena, agent_id=f"a{n}", genome={"exposure_bps": 100 * (n + 1)}))
        cmds.append(command("AllocateCapital", arena_id=arena, agent_id=f"a{n}", amount=money(10_000)))
    for day in range(1, 4):
        for n in range(3):
            pnl = (salt * 37 + day * 11 + n * 5) % 900 - 450
            cmds.append(
                command(
                    "RecordPnL",
                    arena_id=arena,
                    agent_id=f"a{n}",
                    amount=money(pnl),
                    period=day,
                    source="simulation",
                )
            )
    cmds.append(command("AllocateCapital", arena_id=arena, agent_id="a0", amount=money(10**15)))  # rejected
    return cmds


def expected_events(commands: list[Command]) -> list[bytes]:
    """What the one deciding function says these commands produce (a duplicate produces nothing)."""
    return core_outcome(commands)[0]


def core_outcome(commands: list[Command]) -> tuple[list[bytes], int]:
    """One arena's commands through the pure core: the events' bytes, and how many were duplicates."""
    state = ArenaState.empty(commands[0].arena_id)
    produced: list[bytes] = []
    duplicates = 0
    for cmd in commands:
        outcome = execute(state, cmd)
        state = outcome.state
        duplicates += int(outcome.duplicate)
        produced.extend(encode_event(e) for e in outcome.events)
    return produced, duplicates
