"""What a dead-lettered command looks like on `arena.commands.dlq`.

A dead letter must let a person see at a glance why a message was refused and let a program
re-publish it byte for byte: so it carries a machine reason, a human message, where the message came
from (topic, partition, offset, timestamp), and the original key and value in base64 (they may not
be text at all), plus a text preview when they are.
"""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from typing import Final

import orjson
from pydantic import BaseModel, ConfigDict

from schemas.commands import DecodeReason

_PREVIEW_CHARS: Final = 512
# Embedded as base64 (x4/3) below Kafka's default 1 MB record limit, with room for the rest.
MAX_EMBEDDED_BYTES: Final = 512 * 1024


class RoutingReason(StrEnum):
    """Refusals that are about where a well-formed command arrived, not about its content."""

    NULL_KEY = "NULL_KEY"
    NULL_VALUE = "NULL_VALUE"
    KEY_MISMATCH = "KEY_MISMATCH"
    WRONG_PARTITION = "WRONG_PARTITION"
    PROCESSING_ERROR = "PROCESSING_ERROR"


class SourceRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str
    message: str
    source: SourceRef
    key_b64: str | None
    value_b64: str | None
    key_preview: str | None
    value_preview: str | None
    value_bytes: int | None = None
    value_sha256: str | None = None
    value_omitted: bool = False  # too big to embed: fetch it from `source`

    def original_value(self) -> bytes | None:
        return None if self.value_b64 is None else base64.b64decode(self.value_b64)

    def original_key(self) -> bytes | None:
        return None if self.key_b64 is None else base64.b64decode(self.key_b64)


def dead_letter(
    reason: DecodeReason | RoutingReason, message: str, source: SourceRef, key: bytes | None, value: bytes | None
) -> bytes:
    key = None if key is not None and len(key) > MAX_EMBEDDED_BYTES // 4 else key
    omitted = value is not None and len(value) > MAX_EMBEDDED_BYTES
    letter = DeadLetter(
        reason=reason.value,
        message=message,
        source=source,
        key_b64=_b64(key),
        value_b64=None if omitted else _b64(value),
        key_preview=_preview(key),
        value_preview=_preview(value),
        value_bytes=None if value is None else len(value),
        value_sha256=None if value is None else hashlib.sha256(value).hexdigest(),
        value_omitted=omitted,
    )
    return orjson.dumps(letter.model_dump(mode="json"))


def decode_dead_letter(raw: bytes) -> DeadLetter:
    return DeadLetter.model_validate_json(raw)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _preview(data: bytes | None) -> str | None:
    if data is None:
        return None
    text = data[: _PREVIEW_CHARS * 4].decode("utf-8", errors="replace")
    return text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + "…"
