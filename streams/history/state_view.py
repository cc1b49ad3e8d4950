"""How a replayed state is shown: a compact table for people, full rows as JSON for programs.

Both show the same arenas: every arena on record (``ArenaState.on_record``), created or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from schemas.fields import TIERS
from streams.domain import ArenaState, to_rows
from streams.domain.compromise import Compromise


def state_json(states: dict[str, ArenaState]) -> dict[str, Any]:
    """Every arena as its persisted rows (the same shape the worker's tables hold)."""
    result: dict[str, Any] = {}
    for arena_id, state in sorted(states.items()):
        if not state.on_record:
            continue
        rows = to_rows(state)
        result[arena_id] = {"header": rows.header, "agents": rows.agents}
    return result


def state_table(
    states: dict[str, ArenaState], *, agents: bool = False, compromised: Mapping[str, Compromise] | None = None
) -> str:
    """One block per arena on record; a compromised arena says so under its first line."""
    lines: list[str] = []
    incidents = compromised or {}
    for arena_id, state in sorted(states.items()):
        if not state.on_record:
            continue
        if not state.exists:
            lines.append(
                f"arena {arena_id} (not created)  seq {state.last_seq}  hash {state.last_hash[:16]}…  "
                f"never created: {state.last_seq} refused command(s), nothing held"
            )
        else:
            lines.append(f"arena {arena_id} ({state.currency})  seq {state.last_seq}  hash {state.last_hash[:16]}…")
        if arena_id in incidents:
            lines.append(f"  ! COMPROMISED {incidents[arena_id].summary(arena_id)}")
        if not state.exists:
            continue
        capital = state.capital_by_tier()
        lines.append(
            f"  treasury {state.treasury:>16,}   funded {state.funded_total:,}   withdrawn {state.withdrawn_total:,}"
            f"   PnL {state.pnl_total:,}   cycles {state.last_cycle}"
        )
        for tier in TIERS:
            lines.append(f"  {tier:<10} {state.tier_counts.of(tier):>5} alive  capital {capital[tier]:>16,}")
        if agents:
            lines.append(
                f"  {'agent':<24} {'tier':<10} {'alive':<5} {'gen':>3} {'balance':>14} {'PnL':>12} {'records':>7}"
            )
            for agent in sorted(state.agents.values(), key=lambda a: a.agent_id):
                alive = "yes" if agent.alive else "no"
                lines.append(
                    f"  {agent.agent_id:<24} {agent.tier:<10} {alive:<5} {agent.generation:>3} "
                    f"{agent.balance:>14,} {agent.pnl_total:>12,} {agent.pnl_records:>7}"
                )
    return "\n".join(lines) if lines else "(no arena)"
