"""Dead letters on ``arena.commands.dlq``: the wire model and every reason code.

A dead letter is a message that never became a command. It must let a person see at a glance why
it was refused and let a program re-publish it byte for byte, so it carries a machine reason, a human
message, where the message came from (topic, partition, offset, timestamp), and the original key and
value in base64 (they may not be text at all), plus a text preview when they are.

Refusals of a *well-formed* command are never dead letters: they are ``CommandRejected`` /
``AllocationError`` events on ``arena.events`` (see ``schemas.rejections``).
"""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from schemas.commands import DecodeReason
from schemas.fields import SourceRef


class RoutingReason(StrEnum):
    """Refusals that are about where a well-formed command arrived, not about its content."""

    NULL_KEY = "NULL_KEY"
    NULL_VALUE = "NULL_VALUE"
    KEY_MISMATCH = "KEY_MISMATCH"
    WRONG_PARTITION = "WRONG_PARTITION"
    PROCESSING_ERROR = "PROCESSING_ERROR"


REASON_MEANINGS: Final[dict[str, str]] = {
    DecodeReason.TOO_LARGE: "the value is larger than 1 MiB (1,048,576 bytes)",
    DecodeReason.NOT_UTF8: "the value is not UTF-8 (UTF-16, UTF-32 and a byte-order mark are refused too)",
    DecodeReason.INVALID_JSON: "the value is not RFC 8259 JSON (NaN and Infinity are not JSON numbers)",
    DecodeReason.NOT_AN_OBJECT: "the value is JSON but not an object",
    DecodeReason.MISSING_TYPE: "the object has no 'type'",
    DecodeReason.UNKNOWN_TYPE: "'type' names no command",
    DecodeReason.SCHEMA_VIOLATION: "a field is missing, unknown, of the wrong JSON type or out of shape",
    DecodeReason.UNKNOWN_VERSION: "'schema_version' is newer than the worker, or not readable",
    RoutingReason.NULL_KEY: "the message has no key (commands are keyed by arena id)",
    RoutingReason.NULL_VALUE: "the message has no value (a tombstone)",
    RoutingReason.KEY_MISMATCH: "the key differs from the command's arena_id",
    RoutingReason.WRONG_PARTITION: "the message is not on the partition murmur2(key) gives (wrong partitioner)",
    RoutingReason.PROCESSING_ERROR: "the core failed on the command (a defect; the command is kept here)",
}
"""Every reason code a dead letter can carry, and what it means (the contract page lists the same)."""

DEAD_LETTER_REASONS: Final[tuple[str, ...]] = tuple(REASON_MEANINGS)


def _reason_schema(schema: JsonDict) -> None:
    schema["enum"] = list(DEAD_LETTER_REASONS)
    schema["description"] = "Why the message is here: " + "; ".join(
        f"{code}: {meaning}" for code, meaning in REASON_MEANINGS.items()
    )


class DeadLetter(BaseModel):
    """One refused message. ``value_b64`` is absent (``value_omitted``) when the value was too big to
    embed; ``source`` then says where to fetch it, ``value_bytes`` and ``value_sha256`` identify it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(json_schema_extra=_reason_schema)
    message: str = Field(description="what was wrong, for a person")
    source: SourceRef = Field(description="where the refused message was")
    key_b64: str | None = Field(description="the original key, base64 (null: no key, or a key over 128 KiB)")
    value_b64: str | None = Field(description="the original value, base64 (null: no value, or value_omitted)")
    key_preview: str | None = Field(description="the key as text (invalid UTF-8 replaced), shortened")
    value_preview: str | None = Field(description="the value as text (invalid UTF-8 replaced), first 512 characters")
    value_bytes: int | None = Field(default=None, description="the original value's size in bytes")
    value_sha256: str | None = Field(default=None, description="SHA-256 of the original value, hex")
    value_omitted: bool = Field(default=False, description="true: the value was over 512 KiB and is not embedded")

    def original_value(self) -> bytes | None:
        return None if self.value_b64 is None else base64.b64decode(self.value_b64)

    def original_key(self) -> bytes | None:
        return None if self.key_b64 is None else base64.b64decode(self.key_b64)


def decode_dead_letter(raw: bytes) -> DeadLetter:
    return DeadLetter.model_validate_json(raw)
