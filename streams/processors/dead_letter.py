"""Building a dead letter for `arena.commands.dlq` (its wire model is `schemas.dead_letters`).

The original key and value are embedded in base64 so a program can re-publish them byte for byte,
unless they are too big for one record: then size, SHA-256 and source offset identify them instead.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

import orjson

from schemas.commands import DecodeReason
from schemas.dead_letters import DeadLetter, RoutingReason, decode_dead_letter
from schemas.fields import SourceRef

__all__ = ["MAX_EMBEDDED_BYTES", "DeadLetter", "RoutingReason", "SourceRef", "dead_letter", "decode_dead_letter"]

_PREVIEW_CHARS: Final = 512
# Embedded as base64 (x4/3) below Kafka's default 1 MB record limit, with room for the rest.
MAX_EMBEDDED_BYTES: Final = 512 * 1024


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


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _preview(data: bytes | None) -> str | None:
    if data is None:
        return None
    text = data[: _PREVIEW_CHARS * 4].decode("utf-8", errors="replace")
    return text if len(text) <= _PREVIEW_CHARS else text[:_PREVIEW_CHARS] + "…"
