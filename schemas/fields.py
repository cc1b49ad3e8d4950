"""Identifier and technical field types shared by commands and events.

These are validated at the wire: an id that does not match its pattern, a negative timestamp or a
seed that no JSON reader could hold exactly is a malformed message, not a business decision. Every
integer here is bounded by ``MAX_MINOR`` so that every event we emit stays exact in any JSON reader.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from schemas.money import MAX_MINOR

ARENA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ArenaId = Annotated[str, StringConstraints(strict=True, pattern=ARENA_ID_PATTERN)]
# ':' is allowed so that ids derived by the core (``c3-0``) and by engines (``pop:7``) both fit.
AgentId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
CommandId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]
CorrelationId = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]
FillRef = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128)]
FreeText = Annotated[str, StringConstraints(strict=True, max_length=512)]
EpochMillis = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)]
SeqNo = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)]
Seed = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)]
CycleNo = Annotated[StrictInt, Field(ge=1, le=MAX_MINOR)]
Period = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)]
Sha256Hex = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{64}$")]

Tier = Literal["incubator", "proving", "arena"]
TIERS: tuple[Tier, ...] = ("incubator", "proving", "arena")
PnLSource = Literal["simulation", "trading"]


class SourceRef(BaseModel):
    """Where a record sits in Kafka: what a dead letter or an alert is about."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = Field(default=None, description="the record's Kafka timestamp, epoch ms")

    def where(self) -> str:
        """``topic[partition]@offset``, the form every message and log line uses."""
        return f"{self.topic}[{self.partition}]@{self.offset}"
