"""Commands as they arrive on ``arena.commands``, and the one way to decode them.

What is checked where (the rule: a wrong *type* is a decode error, a well-typed but unacceptable
*value* is a rejection event decided by the pure core):

* Decode errors (``CommandDecodeError`` -> dead-letter topic): bytes that are not UTF-8 or not JSON
  (RFC 8259: ``NaN`` and ``Infinity`` are not JSON, see ``schemas.strict_json``), a missing or
  unknown ``type``, unknown fields, missing fields, wrong JSON types (a float, bool or string where
  an integer belongs, even ``1.0``), and technical fields out of shape: ids that do not match their
  pattern, negative or inexact (> 2**53 - 1) timestamps, seqs, seeds, periods and cycle
  numbers, an unknown tier or PnL source.
* Rejection events (decided by ``streams.domain.decide``): amounts that are negative, zero where a
  movement is required, above ``MAX_MINOR`` or that would overflow a balance (``AMOUNT_OUT_OF_RANGE``),
  currency mismatches, genomes that break the gene rules (``INVALID_GENOME``, see ``schemas.genome``)
  and policies whose numbers make no sense (``INVALID_POLICY``).
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError, model_validator

from schemas.command_versions import UnknownCommandVersion, current_command_version, upcast_command
from schemas.fields import (
    AgentId,
    ArenaId,
    CommandId,
    CorrelationId,
    CycleNo,
    EpochMillis,
    FillRef,
    FreeText,
    Period,
    PnLSource,
    Seed,
    SeqNo,
    Tier,
)
from schemas.genome import WireGenome, WireGenomeDelta
from schemas.money import Currency, RequestedMoney
from schemas.policies import EvolutionPolicy, TierPolicies
from schemas.strict_json import non_finite_message, non_finite_number

MAX_COMMAND_BYTES: Final = 1_048_576


class _CommandBase(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    command_id: CommandId = Field(
        description="unique per arena and the idempotency key: a command id seen again is dropped "
        "(remembered for the last evolution_policy.command_id_window commands)"
    )
    arena_id: ArenaId = Field(description="the arena; also the Kafka key of the message")
    issued_at: EpochMillis = Field(
        description="the command's time: the engine's clock, epoch milliseconds. It becomes the "
        "occurred_at of every event the command causes (the worker's clock is never used)"
    )
    correlation_id: CorrelationId | None = Field(
        default=None, description="copied to the events (default: the command_id), to follow a flow"
    )
    expected_seq: SeqNo | None = Field(
        default=None, description="optimistic concurrency: refused (SEQ_MISMATCH) unless the arena is at this seq"
    )
    schema_version: Annotated[StrictInt, Field(ge=1)] | None = Field(
        default=None,
        description="the version of this command's schema the sender wrote (absent: the current one; "
        "RecordPnL is 2, every other command 1)",
    )

    @model_validator(mode="after")
    def _version_is_current(self) -> _CommandBase:
        # Older versions were upcast before validation (``parse_command``); what is left must be current.
        command_type = str(getattr(self, "type", ""))
        if self.schema_version is not None and self.schema_version != current_command_version(command_type):
            raise ValueError(f"{command_type} is schema_version {current_command_version(command_type)}")
        return self


class CreateArena(_CommandBase):
    type: Literal["CreateArena"]
    currency: Currency
    tier_policy: TierPolicies = TierPolicies()
    evolution_policy: EvolutionPolicy = EvolutionPolicy()
    seed: Seed


class FundArena(_CommandBase):
    type: Literal["FundArena"]
    amount: RequestedMoney


class WithdrawFunds(_CommandBase):
    type: Literal["WithdrawFunds"]
    amount: RequestedMoney


class SpawnAgent(_CommandBase):
    type: Literal["SpawnAgent"]
    agent_id: AgentId
    genome: WireGenome
    tier: Tier = "incubator"


class AllocateCapital(_CommandBase):
    type: Literal["AllocateCapital"]
    agent_id: AgentId
    amount: RequestedMoney


class ReleaseCapital(_CommandBase):
    type: Literal["ReleaseCapital"]
    agent_id: AgentId
    amount: RequestedMoney


class RecordPnL(_CommandBase):
    """Schema v2: ``amount`` is money with a signed amount (v1, still accepted: a bare integer and a
    ``currency``; see ``schemas.command_versions``)."""

    type: Literal["RecordPnL"]
    agent_id: AgentId
    amount: RequestedMoney = Field(description="the PnL: amount > 0 a profit, < 0 a loss, in minor units")
    period: Period
    source: PnLSource
    fill_ref: FillRef | None = None


class KillAgent(_CommandBase):
    type: Literal["KillAgent"]
    agent_id: AgentId
    reason: FreeText


class GraduateAgent(_CommandBase):
    type: Literal["GraduateAgent"]
    agent_id: AgentId


class MutateAgent(_CommandBase):
    type: Literal["MutateAgent"]
    parent_id: AgentId
    child_id: AgentId
    seed: Seed
    genome_delta: WireGenomeDelta | None = None


class RunEvolutionCycle(_CommandBase):
    type: Literal["RunEvolutionCycle"]
    cycle: CycleNo


Command = Annotated[
    CreateArena
    | FundArena
    | WithdrawFunds
    | SpawnAgent
    | AllocateCapital
    | ReleaseCapital
    | RecordPnL
    | KillAgent
    | GraduateAgent
    | MutateAgent
    | RunEvolutionCycle,
    Field(discriminator="type"),
]

COMMAND_ADAPTER: Final[TypeAdapter[Command]] = TypeAdapter(Command)


class DecodeReason(StrEnum):
    """Machine-readable reason a message went to the dead-letter topic."""

    TOO_LARGE = "TOO_LARGE"
    NOT_UTF8 = "NOT_UTF8"
    INVALID_JSON = "INVALID_JSON"
    NOT_AN_OBJECT = "NOT_AN_OBJECT"
    MISSING_TYPE = "MISSING_TYPE"
    UNKNOWN_TYPE = "UNKNOWN_TYPE"
    SCHEMA_VIOLATION = "SCHEMA_VIOLATION"
    UNKNOWN_VERSION = "UNKNOWN_VERSION"


class CommandDecodeError(ValueError):
    """A message that cannot become a ``Command``; the pipeline dead-letters it and keeps going."""

    def __init__(self, reason: DecodeReason, message: str) -> None:
        super().__init__(f"{reason.value}: {message}")
        self.reason = reason
        self.message = message


_MAX_DETAILS: Final = 5


def parse_command(raw: bytes) -> Command:
    """Decode and validate one command message in a single pass (pydantic-core's JSON parser)."""
    if len(raw) > MAX_COMMAND_BYTES:
        raise CommandDecodeError(DecodeReason.TOO_LARGE, f"{len(raw)} bytes exceeds the limit of {MAX_COMMAND_BYTES}")
    token = non_finite_number(raw)
    if token is not None:
        raise CommandDecodeError(DecodeReason.INVALID_JSON, non_finite_message(token))
    try:
        return COMMAND_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        first_error = exc
    older = _older_version(raw)  # the slow path: only commands that fail as the current version
    if older is not None:
        try:
            return COMMAND_ADAPTER.validate_json(json.dumps(older, ensure_ascii=False))
        except ValidationError as exc:
            raise _classify(raw, exc) from None
    raise _classify(raw, first_error) from None


def _older_version(raw: bytes) -> dict[str, object] | None:
    """The document of ``raw`` brought to the current version, if it was written to an older one."""
    try:
        # Decoded as UTF-8 first: json.loads(bytes) would also read UTF-16, UTF-32 and a byte-order mark.
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return None  # not UTF-8 or not JSON: classified from the first error
    if not isinstance(doc, dict):
        return None
    try:
        upgraded = upcast_command(doc)
    except UnknownCommandVersion as exc:
        raise CommandDecodeError(DecodeReason.UNKNOWN_VERSION, str(exc)) from None
    return upgraded if upgraded is not doc else None


def _classify(raw: bytes, exc: ValidationError) -> CommandDecodeError:
    errors = exc.errors(include_url=False, include_input=False)
    kinds = {err["type"] for err in errors}
    if "json_invalid" in kinds:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return CommandDecodeError(DecodeReason.NOT_UTF8, f"byte {bad.start} is not valid UTF-8")
        return CommandDecodeError(DecodeReason.INVALID_JSON, str(errors[0]["msg"]))
    if kinds <= {"dict_type", "model_attributes_type"} and all(not err["loc"] for err in errors):
        return CommandDecodeError(DecodeReason.NOT_AN_OBJECT, "a command must be a JSON object")
    if "union_tag_not_found" in kinds:
        return CommandDecodeError(DecodeReason.MISSING_TYPE, "the command has no 'type' field")
    if "union_tag_invalid" in kinds:
        return CommandDecodeError(DecodeReason.UNKNOWN_TYPE, str(errors[0]["msg"]))
    details = "; ".join(
        f"{'.'.join(str(part) for part in err['loc'][1:]) or '<root>'}: {err['msg']}" for err in errors[:_MAX_DETAILS]
    )
    more = f" (+{len(errors) - _MAX_DETAILS} more)" if len(errors) > _MAX_DETAILS else ""
    return CommandDecodeError(DecodeReason.SCHEMA_VIOLATION, details + more)


def encode_command(command: Command) -> bytes:
    """Serialise a command for ``arena.commands`` (producers and tests use the same bytes)."""
    return COMMAND_ADAPTER.dump_json(command)


COMMAND_TYPES: Final[tuple[str, ...]] = (
    "CreateArena",
    "FundArena",
    "WithdrawFunds",
    "SpawnAgent",
    "AllocateCapital",
    "ReleaseCapital",
    "RecordPnL",
    "KillAgent",
    "GraduateAgent",
    "MutateAgent",
    "RunEvolutionCycle",
)
