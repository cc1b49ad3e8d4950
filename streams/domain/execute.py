"""``execute``: one command in, its sealed events and the next state out.

Steps, all pure:
 1. A command id the arena remembers (``state.command_ids``) is a duplicate: no events, same state.
    Retried deliveries are therefore harmless within the window (see ``window.py`` for its bound).
 2. ``expected_seq``, when given, must equal the arena's ``last_seq`` (``SEQ_MISMATCH`` otherwise).
    A refused command is still *processed*: resending the same command id is a duplicate, so a
    sender that lost the race re-reads and issues a new command.
 3. ``decide``; a ``Rejection`` becomes one ``CommandRejected`` (``AllocationError`` for
    AllocateCapital/ReleaseCapital) event.
 4. Each payload is sealed into an envelope: seq, deterministic event id, postings, hash chain.
 5. ``evolve`` folds the events into the state.
 6. The core's own conservation check compares the state change with the postings. If it fails, the
    decided events are dropped and a single ``CONSERVATION_VIOLATED`` rejection is emitted instead:
    a bug in a rule must never publish money that does not add up. This fails closed: if a state were
    ever corrupt, every later command would be refused the same way until someone repairs it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from schemas.commands import AllocateCapital, Command, ReleaseCapital
from schemas.events import AllocationError, AnyPayload, CommandRejected, Event, canonical_body, sealed_bytes
from schemas.money import MAX_MINOR
from schemas.rejections import Reason, kind_of
from schemas.upcasting import current_version
from streams.domain import checks, postings
from streams.domain.decide import decide
from streams.domain.evolve import evolve
from streams.domain.rejection import Rejection
from streams.domain.state import ArenaState

MAX_MESSAGE: Final = 512


@dataclass(frozen=True, slots=True)
class Outcome:
    """Events to publish atomically, the state after them, whether the command was a duplicate, and the
    reason it was refused (None if it was not: the single event then reports the refusal)."""

    events: tuple[Event, ...]
    state: ArenaState
    duplicate: bool = False
    refused: Reason | None = None
    wire: tuple[bytes, ...] = ()  # each event as written on the topic (schemas.events.sealed_bytes)

    @property
    def rejected(self) -> bool:
        return self.refused is not None


def _message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def rejection_payload(command: Command, rejection: Rejection) -> AnyPayload:
    """The event payload that reports ``rejection`` of ``command``."""
    if isinstance(command, AllocateCapital | ReleaseCapital):
        requested = command.amount.amount if rejection.requested is None else rejection.requested
        return AllocationError(
            command_type=command.type,
            error_kind=kind_of(command.type, rejection.reason),
            reason=rejection.reason,
            message=_message(rejection.message),
            agent_id=rejection.agent_id or command.agent_id,
            requested=requested if abs(requested) <= MAX_MINOR else None,
        )
    return CommandRejected(
        command_type=command.type,
        error_kind=kind_of(command.type, rejection.reason),
        reason=rejection.reason,
        message=_message(rejection.message),
    )


def seal(
    state: ArenaState, command: Command, payloads: list[AnyPayload]
) -> tuple[list[Event], ArenaState, list[bytes]]:
    """Wrap payloads into hash-chained envelopes and fold them into ``state``; also each event's bytes as
    written (its canonical bytes, hashed once, with the hash added: ``schemas.events.sealed_bytes``).

    The envelopes are built without validation: every field comes from a validated command, the core's
    own payloads and the chain, so the model's checks could only repeat what holds by construction."""
    events: list[Event] = []
    wire: list[bytes] = []
    correlation_id = command.correlation_id or command.command_id
    for index, payload in enumerate(payloads):
        entries = postings.postings_of(payload)
        seq = state.last_seq + 1
        event_id = f"{command.command_id}:{index}"
        version = current_version(payload.type)
        doc = {
            "event_id": event_id,
            "arena_id": command.arena_id,
            "seq": seq,
            "type": payload.type,
            "schema_version": version,
            "causation_id": command.command_id,
            "correlation_id": correlation_id,
            "occurred_at": command.issued_at,
            "postings": [{"debit": p.debit, "credit": p.credit, "amount": p.amount} for p in entries],
            "payload": payload.model_dump(mode="json"),
            "prev_hash": state.last_hash,
        }
        body = canonical_body(doc)
        event_hash = hashlib.sha256(body).hexdigest()
        event = Event.model_construct(
            event_id=event_id,
            arena_id=command.arena_id,
            seq=seq,
            type=payload.type,
            schema_version=version,
            causation_id=command.command_id,
            correlation_id=correlation_id,
            occurred_at=command.issued_at,
            postings=entries,
            payload=payload,
            prev_hash=state.last_hash,
            hash=event_hash,
        )
        state = evolve(state, event)
        events.append(event)
        wire.append(sealed_bytes(body, event_hash))
    return events, state, wire


def execute(state: ArenaState, command: Command) -> Outcome:
    if command.arena_id != state.arena_id:
        raise ValueError(f"command for arena {command.arena_id!r} executed against {state.arena_id!r}")
    if command.command_id in state.command_ids:
        return Outcome((), state, duplicate=True)
    decision: list[AnyPayload] | Rejection
    if command.expected_seq is not None and command.expected_seq != state.last_seq:
        decision = Rejection(
            Reason.SEQ_MISMATCH,
            f"expected arena {state.arena_id} at seq {command.expected_seq}, it is at {state.last_seq}",
        )
    else:
        decision = decide(state, command)
    refused = decision.reason if isinstance(decision, Rejection) else None
    if isinstance(decision, Rejection):
        decision = [rejection_payload(command, decision)]
    if not decision:
        raise RuntimeError(f"decide produced no events for {command.type}")  # a rule bug, not input
    events, after, wire = seal(state, command, decision)
    problems = checks.transition_problems(state, after, events)
    if problems:
        refusal = Rejection(Reason.CONSERVATION_VIOLATED, "core check failed: " + "; ".join(problems))
        events, after, wire = seal(state, command, [rejection_payload(command, refusal)])
        refused = refusal.reason
    return Outcome(tuple(events), after, refused=refused, wire=tuple(wire))
