"""Events on ``arena.events``: the envelope, the payloads, the hash chain and the codec.

Envelope invariants:
  * ``event_id = f"{command_id}:{index}"`` so that a retried command yields the same ids;
  * ``seq`` is per arena and contiguous from 1;
  * ``type`` repeats ``payload.type`` so consumers can route without parsing the payload;
  * ``occurred_at`` is the command's engine time, never the wall clock, so replay is deterministic;
  * ``hash = sha256(canonical bytes of the event without "hash")`` and ``prev_hash`` is the previous
    event's hash in the same arena (``GENESIS_HASH`` for the first), so editing, removing or inserting
    an event breaks the chain.

Canonical bytes are ``orjson.dumps(doc_without_hash, option=OPT_SORT_KEYS)`` of the JSON-mode dict,
which equals ``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` (all keys
are ASCII field and gene names, so byte order and code-point order of keys agree). The hash
covers the event as *written*: a reader verifies it on the raw decoded dict, before upcasting.

Every integer in an event is within +-(2**53 - 1), so every JSON reader gets it exactly.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from schemas.fields import (
    AgentId,
    ArenaId,
    CommandId,
    Count,
    CycleNo,
    EpochMillis,
    FillRef,
    FreeText,
    Period,
    PnLSource,
    Seed,
    Sha256Hex,
    Tier,
)
from schemas.money import Currency, MinorUnits, Money, PositiveMinorUnits, SignedMinorUnits, SignedMoney
from schemas.policies import EvolutionPolicy, TierPolicies
from schemas.rejections import ErrorKind, Reason
from schemas.upcasting import JsonDict, current_version, upcast

GENESIS_HASH: Final = "0" * 64
_FROZEN = ConfigDict(frozen=True, extra="forbid", json_schema_serialization_defaults_required=True)


ACCOUNT_PATTERN: Final = r"^(external|market|treasury|agent:[A-Za-z0-9][A-Za-z0-9_.:-]{0,63})$"
_ACCOUNT = (
    "an account of the arena: 'external' (the world that funds and withdraws), 'market' (the "
    "counterparty of PnL), 'treasury' (unallocated cash) or 'agent:<agent_id>' (capital allocated to "
    "an agent, its PnL included). A reader of this project accepts any other name in order to report it "
    "as UNKNOWN_ACCOUNT"
)


class Posting(BaseModel):
    """One double-entry movement of ``amount`` from ``credit`` to ``debit``.

    Sign convention: an account's balance is the sum of the amounts it was debited minus the sum it
    was credited. ``treasury`` and ``agent:<id>`` never go below zero; ``external`` and ``market`` go
    negative as money comes in (funding, profits), so the balances of an arena always sum to zero.
    """

    model_config = _FROZEN

    debit: str = Field(
        description="the account that gains amount; " + _ACCOUNT, json_schema_extra={"pattern": ACCOUNT_PATTERN}
    )
    credit: str = Field(
        description="the account that loses amount; " + _ACCOUNT, json_schema_extra={"pattern": ACCOUNT_PATTERN}
    )
    amount: PositiveMinorUnits = Field(description="minor units, at least 1")


class ArenaCreated(BaseModel):
    model_config = _FROZEN
    type: Literal["ArenaCreated"] = "ArenaCreated"
    currency: Currency
    tier_policy: TierPolicies
    evolution_policy: EvolutionPolicy
    seed: Seed


class ArenaFunded(BaseModel):
    model_config = _FROZEN
    type: Literal["ArenaFunded"] = "ArenaFunded"
    amount: Money


class FundsWithdrawn(BaseModel):
    model_config = _FROZEN
    type: Literal["FundsWithdrawn"] = "FundsWithdrawn"
    amount: Money


class AgentSpawned(BaseModel):
    model_config = _FROZEN
    type: Literal["AgentSpawned"] = "AgentSpawned"
    agent_id: AgentId
    tier: Tier
    genome: dict[str, int]
    parent_id: AgentId | None
    generation: Count


class CapitalAllocated(BaseModel):
    model_config = _FROZEN
    type: Literal["CapitalAllocated"] = "CapitalAllocated"
    agent_id: AgentId
    amount: Money


class CapitalReleased(BaseModel):
    model_config = _FROZEN
    type: Literal["CapitalReleased"] = "CapitalReleased"
    agent_id: AgentId
    amount: Money


class PnLRecorded(BaseModel):
    """Schema v3: ``amount`` is signed money (v2 had a bare integer and a ``currency``; v1 had no
    ``source`` either; see ``schemas.upcasting``)."""

    model_config = _FROZEN
    type: Literal["PnLRecorded"] = "PnLRecorded"
    agent_id: AgentId
    amount: SignedMoney
    period: Period
    source: PnLSource
    fill_ref: FillRef | None


class AgentKilled(BaseModel):
    """``returned`` is the agent's whole balance, moved back to the treasury."""

    model_config = _FROZEN
    type: Literal["AgentKilled"] = "AgentKilled"
    agent_id: AgentId
    tier: Tier
    reason: FreeText
    returned: Money


class AgentGraduated(BaseModel):
    model_config = _FROZEN
    type: Literal["AgentGraduated"] = "AgentGraduated"
    agent_id: AgentId
    from_tier: Tier
    to_tier: Tier


class AgentMutated(BaseModel):
    """Lineage record; the child itself appears in the ``AgentSpawned`` that follows."""

    model_config = _FROZEN
    type: Literal["AgentMutated"] = "AgentMutated"
    parent_id: AgentId
    child_id: AgentId
    genome: dict[str, int]
    seed: Seed


class EvolutionCycleComplete(BaseModel):
    model_config = _FROZEN
    type: Literal["EvolutionCycleComplete"] = "EvolutionCycleComplete"
    cycle: CycleNo
    judged: Count
    killed: Count
    graduated: Count
    spawned: Count
    released: Count
    allocated: Count
    population: Count


class TierCapital(BaseModel):
    model_config = _FROZEN
    incubator: MinorUnits
    proving: MinorUnits
    arena: MinorUnits


class CapitalConservationCheck(BaseModel):
    """The core's totals at this point; the ledger processor compares them with its own."""

    model_config = _FROZEN
    type: Literal["CapitalConservationCheck"] = "CapitalConservationCheck"
    treasury: MinorUnits
    agents_total: MinorUnits
    funded: MinorUnits
    withdrawn: MinorUnits
    pnl: SignedMinorUnits
    tier_capital: TierCapital


class CommandRejected(BaseModel):
    model_config = _FROZEN
    type: Literal["CommandRejected"] = "CommandRejected"
    command_type: str
    error_kind: ErrorKind
    reason: Reason
    message: FreeText


class AllocationError(BaseModel):
    """Rejection of AllocateCapital/ReleaseCapital (the name the original system used).

    ``requested`` is None when the requested amount is outside +-(2**53 - 1) and so cannot be carried
    exactly; the message then quotes it (shortened).
    """

    model_config = _FROZEN
    type: Literal["AllocationError"] = "AllocationError"
    command_type: str
    error_kind: ErrorKind
    reason: Reason
    message: FreeText
    agent_id: AgentId
    requested: SignedMinorUnits | None


AnyPayload = (
    ArenaCreated
    | ArenaFunded
    | FundsWithdrawn
    | AgentSpawned
    | CapitalAllocated
    | CapitalReleased
    | PnLRecorded
    | AgentKilled
    | AgentGraduated
    | AgentMutated
    | EvolutionCycleComplete
    | CapitalConservationCheck
    | CommandRejected
    | AllocationError
)
Payload = Annotated[AnyPayload, Field(discriminator="type")]
Rejected = CommandRejected | AllocationError

EventType = Literal[
    "ArenaCreated",
    "ArenaFunded",
    "FundsWithdrawn",
    "AgentSpawned",
    "CapitalAllocated",
    "CapitalReleased",
    "PnLRecorded",
    "AgentKilled",
    "AgentGraduated",
    "AgentMutated",
    "EvolutionCycleComplete",
    "CapitalConservationCheck",
    "CommandRejected",
    "AllocationError",
]
PAYLOAD_MODELS: Final[tuple[type[BaseModel], ...]] = (
    ArenaCreated,
    ArenaFunded,
    FundsWithdrawn,
    AgentSpawned,
    CapitalAllocated,
    CapitalReleased,
    PnLRecorded,
    AgentKilled,
    AgentGraduated,
    AgentMutated,
    EvolutionCycleComplete,
    CapitalConservationCheck,
    CommandRejected,
    AllocationError,
)


class Event(BaseModel):
    model_config = _FROZEN

    event_id: str = Field(description="'<causation_id>:<index>': the same for a retried command")
    arena_id: ArenaId = Field(description="the arena; also the Kafka key of the record")
    seq: Annotated[int, Field(strict=True, ge=1)] = Field(description="per arena, contiguous from 1")
    type: EventType = Field(description="repeats payload.type, to route without reading the payload")
    schema_version: Annotated[int, Field(strict=True, ge=1)] = Field(
        description="the version of this event type's schema it was written in; older ones are read "
        "through upcasters (see schemas/README.md)"
    )
    causation_id: CommandId = Field(description="the command_id of the command that caused the event")
    correlation_id: str = Field(description="the command's correlation_id, or its command_id")
    occurred_at: EpochMillis = Field(
        description="the event's time: the issued_at of the command that caused it (engine time, epoch "
        "milliseconds), never the worker's clock, so a replay is deterministic; when the worker wrote "
        "the event is the record's Kafka timestamp"
    )
    postings: tuple[Posting, ...] = Field(description="the money the event moves; empty when it moves none")
    payload: Payload
    prev_hash: Sha256Hex = Field(description="the hash of the arena's previous event; 64 zeros for seq 1")
    hash: Sha256Hex = Field(
        description="SHA-256 (hex) of the event's canonical bytes: the document without 'hash', keys "
        "sorted, no whitespace, UTF-8 (see schemas/README.md, 'The hash chain')"
    )

    @model_validator(mode="after")
    def _type_and_version_agree(self) -> Event:
        if self.type != self.payload.type:
            raise ValueError(f"envelope type {self.type!r} != payload type {self.payload.type!r}")
        expected = current_version(self.type)
        if self.schema_version != expected:
            raise ValueError(f"{self.type} must be schema_version {expected} after upcasting")
        return self


EVENT_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(Event)


def canonical_bytes(doc: JsonDict) -> bytes:
    """The bytes the hash covers: the JSON-mode document without its ``hash`` key, keys sorted."""
    body = {key: value for key, value in doc.items() if key != "hash"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def digest(doc: JsonDict) -> str:
    return hashlib.sha256(canonical_bytes(doc)).hexdigest()


def canonical_body(body: JsonDict) -> bytes:
    """``canonical_bytes`` of a document known to have no ``hash`` key (skips the copy; the writer's path)."""
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def body_digest(body: JsonDict) -> str:
    """``digest`` of a document known to have no ``hash`` key."""
    return hashlib.sha256(canonical_body(body)).hexdigest()


_OCCURRED_AT: Final = b',"occurred_at":'
_HASH_MEMBER: Final = b',"hash":"'


def sealed_bytes(body: bytes, event_hash: str) -> bytes:
    """The event as written: its canonical bytes with the ``hash`` member in its sorted place.

    A writer hashes the canonical bytes once and sends them, hash added, as the record: no second
    serialisation, and a reader can verify the hash over the bytes as written (``written_digest``).
    ``hash`` sorts right before ``occurred_at``, and every member before that is a string, which cannot
    hold an unescaped quote: the first ``,"occurred_at":`` is the top-level member.
    """
    at = body.index(_OCCURRED_AT)
    return b"".join((body[:at], _HASH_MEMBER, event_hash.encode("ascii"), b'"', body[at:]))


def written_digest(raw: bytes, doc: JsonDict) -> str:
    """The digest of an event's bytes as written, without re-serialising them when they are sealed bytes.

    When the record is its canonical bytes plus the hash member (``sealed_bytes``), the digest is the
    SHA-256 of the record minus that member; if that equals the hash the record claims, it is the digest.
    Anything else (an older writer's member order, whitespace, an edit) is re-serialised canonically:
    the same recipe, the slow way, so a wrong hash is always found.
    """
    claimed = doc.get("hash")
    start = raw.find(_HASH_MEMBER)
    if isinstance(claimed, str) and start > 0:
        end = start + len(_HASH_MEMBER) + len(claimed) + 1
        if raw[start + len(_HASH_MEMBER) : end - 1] == claimed.encode("ascii", errors="replace"):
            fast = hashlib.sha256(raw[:start] + raw[end:]).hexdigest()
            if fast == claimed:
                return fast
    return digest(doc)


def event_digest(event: Event) -> str:
    """Recompute the hash of an event held in memory (current schema version only)."""
    return digest(event.model_dump(mode="json"))


def encode_event(event: Event) -> bytes:
    """The event as written: canonical bytes, hash included in its sorted place (as ``sealed_bytes``)."""
    return orjson.dumps(event.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)


class EventDecodeError(ValueError):
    """Bytes on ``arena.events`` that are not a readable event (audit reports them, never skips)."""


def decode_event_with_digest(raw: bytes) -> tuple[Event, str]:
    """Decode one event and return it with the digest of the bytes *as written*.

    The digest is computed before upcasting, so it can be compared with ``event.hash`` even for an
    event written in an older schema version. A record in the current writer's form (sealed bytes of a
    current schema version) takes the lean way: the digest from the bytes minus the hash member, and one
    parse-and-validate of the bytes in pydantic-core; anything else is parsed, digested canonically and
    upcast.
    """
    lean = _sealed_digest(raw)
    if lean is not None:
        try:
            return EVENT_ADAPTER.validate_json(raw), lean
        except ValueError:
            pass  # an older schema version, or not a valid event: the general way says which
    try:
        doc: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise EventDecodeError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise EventDecodeError("an event must be a JSON object")
    found_digest = written_digest(raw, doc)
    try:
        event = Event.model_validate(upcast(doc))
    except ValueError as exc:  # pydantic.ValidationError and UnknownEventVersion are ValueErrors
        raise EventDecodeError(str(exc)) from None
    return event, found_digest


def _sealed_digest(raw: bytes) -> str | None:
    """The hash a sealed record claims, if the SHA-256 of the record minus its hash member equals it."""
    start = raw.find(_HASH_MEMBER)
    if start <= 0:
        return None
    value_at = start + len(_HASH_MEMBER)
    end = value_at + 64
    if raw[end : end + 1] != b'"':
        return None
    claimed = raw[value_at:end]
    if hashlib.sha256(raw[:start] + raw[end + 1 :]).hexdigest().encode("ascii") != claimed:
        return None
    return claimed.decode("ascii")


def decode_event(raw: bytes) -> Event:
    return decode_event_with_digest(raw)[0]
