"""What changed in an arena between two points of the event topic.

Both points are states folded by the pure core (`streams.history.replay`); the window between them is the
events whose seq lies after the first point and up to the second. From those the diff lists who was
spawned, killed, graduated and mutated, how capital moved per tier and in the treasury, and each
agent's PnL in the window — the questions a risk review asks about a period.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.events import AgentGraduated, AgentKilled, AgentMutated, AgentSpawned, Event, PnLRecorded
from schemas.fields import TIERS, Tier
from streams.domain import ArenaState


@dataclass(slots=True)
class ArenaDiff:
    arena_id: str
    seq_from: int
    seq_to: int
    events: Counter[str] = field(default_factory=Counter)
    spawned: list[str] = field(default_factory=list)
    killed: list[str] = field(default_factory=list)
    graduated: list[tuple[str, str, str]] = field(default_factory=list)
    mutated: list[tuple[str, str]] = field(default_factory=list)
    capital_before: dict[Tier, int] = field(default_factory=dict)
    capital_after: dict[Tier, int] = field(default_factory=dict)
    treasury_before: int = 0
    treasury_after: int = 0
    pnl_by_agent: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {
            "arena_id": self.arena_id,
            "seq": [self.seq_from, self.seq_to],
            "events": dict(sorted(self.events.items())),
            "spawned": self.spawned,
            "killed": self.killed,
            "graduated": [{"agent_id": a, "from": f, "to": t} for a, f, t in self.graduated],
            "mutated": [{"parent_id": p, "child_id": c} for p, c in self.mutated],
            "capital_by_tier": {
                t: {
                    "before": self.capital_before[t],
                    "after": self.capital_after[t],
                    "moved": self.capital_after[t] - self.capital_before[t],
                }
                for t in TIERS
            },
            "treasury": {
                "before": self.treasury_before,
                "after": self.treasury_after,
                "moved": self.treasury_after - self.treasury_before,
            },
            "pnl_by_agent": dict(sorted(self.pnl_by_agent.items())),
        }


def diff_arenas(
    before: dict[str, ArenaState], after: dict[str, ArenaState], events: Iterable[Event]
) -> list[ArenaDiff]:
    """Per arena present at the second point: the changes since the first (an arena absent there starts empty)."""
    diffs: dict[str, ArenaDiff] = {}
    for arena_id, state in sorted(after.items()):
        old = before.get(arena_id) or ArenaState.empty(arena_id)
        diffs[arena_id] = ArenaDiff(
            arena_id=arena_id,
            seq_from=old.last_seq,
            seq_to=state.last_seq,
            capital_before=dict(old.capital_by_tier()),
            capital_after=dict(state.capital_by_tier()),
            treasury_before=old.treasury,
            treasury_after=state.treasury,
        )
    for event in events:
        diff = diffs.get(event.arena_id)
        if diff is None or not diff.seq_from < event.seq <= diff.seq_to:
            continue
        diff.events[event.type] += 1
        payload = event.payload
        if isinstance(payload, AgentSpawned):
            diff.spawned.append(payload.agent_id)
        elif isinstance(payload, AgentKilled):
            diff.killed.append(payload.agent_id)
        elif isinstance(payload, AgentGraduated):
            diff.graduated.append((payload.agent_id, payload.from_tier, payload.to_tier))
        elif isinstance(payload, AgentMutated):
            diff.mutated.append((payload.parent_id, payload.child_id))
        elif isinstance(payload, PnLRecorded):
            diff.pnl_by_agent[payload.agent_id] = diff.pnl_by_agent.get(payload.agent_id, 0) + payload.amount.amount
    return list(diffs.values())
