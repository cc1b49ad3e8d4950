"""Fitness: how an evolution cycle ranks agents, in integer basis points.

``return_bps = pnl_total * 10000 // allocated_total`` measures PnL against all capital ever given
to the agent (not its current balance, which rebalancing moves around). ``drawdown_bps`` is the
deepest fall of the cumulative PnL curve against the same base. Both are 0 for an agent that was
never allocated anything: there is no base to measure against. Floor division keeps everything
integral and identical on every platform.

``score = return_bps - drawdown_bps // DRAWDOWN_PENALTY_DIVISOR``: a return earned with a deep
drawdown ranks below the same return earned smoothly. Ties are broken by agent id, so ranking is a
total order and evolution is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from streams.domain.state import AgentState

BPS: Final = 10_000
DRAWDOWN_PENALTY_DIVISOR: Final = 2


@dataclass(frozen=True, slots=True)
class Fitness:
    agent_id: str
    records: int
    return_bps: int
    drawdown_bps: int
    score: int


def fitness_of(agent: AgentState) -> Fitness:
    base = agent.allocated_total
    return_bps = agent.pnl_total * BPS // base if base else 0
    drawdown_bps = agent.max_drawdown * BPS // base if base else 0
    return Fitness(
        agent_id=agent.agent_id,
        records=agent.pnl_records,
        return_bps=return_bps,
        drawdown_bps=drawdown_bps,
        score=return_bps - drawdown_bps // DRAWDOWN_PENALTY_DIVISOR,
    )


def ranking_key(fitness: Fitness) -> tuple[bool, int, str]:
    """The core's order of agents, best first: judged agents (with a PnL record) before agents with
    nothing to judge yet, then the higher score, then the agent id (a total order)."""
    return (fitness.records == 0, -fitness.score, fitness.agent_id)


def worst_first(fitnesses: list[Fitness]) -> list[Fitness]:
    return sorted(fitnesses, key=lambda f: (f.score, f.agent_id))


def best_first(fitnesses: list[Fitness]) -> list[Fitness]:
    return sorted(fitnesses, key=lambda f: (-f.score, f.agent_id))
