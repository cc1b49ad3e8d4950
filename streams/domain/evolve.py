"""Folding events into state: ``evolve`` for one event, ``fold`` for a history.

``evolve`` also advances what the envelope carries: ``last_seq``, ``last_hash`` and the command-id
window (from ``causation_id``), so that replaying the topic rebuilds idempotency exactly as the live
processor had it.

Redelivery is harmless: an event whose seq is not above ``last_seq`` was already applied and is
ignored. A gap means the history is incomplete and the result would be wrong, so it raises.
"""

from __future__ import annotations

from collections.abc import Iterable

from schemas.events import Event
from streams.domain.apply import apply_payload
from streams.domain.state import ArenaState


class SequenceGap(ValueError):
    """An event arrived whose seq does not follow the state's ``last_seq``."""


def evolve(state: ArenaState, event: Event) -> ArenaState:
    if event.arena_id != state.arena_id:
        raise ValueError(f"event for arena {event.arena_id!r} applied to arena {state.arena_id!r}")
    if event.seq <= state.last_seq:
        return state
    if event.seq != state.last_seq + 1:
        raise SequenceGap(f"arena {state.arena_id}: expected seq {state.last_seq + 1}, got {event.seq}")
    s = apply_payload(state, event.payload, event.seq)
    # written out rather than dataclasses.replace: this runs once per event
    return ArenaState(
        arena_id=s.arena_id,
        exists=s.exists,
        currency=s.currency,
        tier_policy=s.tier_policy,
        evolution_policy=s.evolution_policy,
        seed=s.seed,
        treasury=s.treasury,
        agents_total=s.agents_total,
        funded_total=s.funded_total,
        withdrawn_total=s.withdrawn_total,
        pnl_total=s.pnl_total,
        tier_counts=s.tier_counts,
        last_seq=event.seq,
        last_hash=event.hash,
        last_cycle=s.last_cycle,
        agents=s.agents,
        command_ids=s.command_ids.add(event.causation_id),
        fill_refs=s.fill_refs,
    )


def fold(events: Iterable[Event], states: dict[str, ArenaState] | None = None) -> dict[str, ArenaState]:
    """Replay: the state of every arena after ``events`` (starting from ``states`` if given)."""
    result = dict(states or {})
    for event in events:
        state = result.get(event.arena_id)
        if state is None:
            state = ArenaState.empty(event.arena_id)
        result[event.arena_id] = evolve(state, event)
    return result
