"""KRaft cluster ids that Kafka's own storage tool accepts.

A cluster id is 16 random bytes in URL-safe base64 without padding (22 characters). About one id in
64 starts with `-` (a first byte of 0xF8-0xFB), and the storage tool's argument parser then takes the
id for an option: `argument --cluster-id/-t: expected one argument`, and the broker never formats.
Kafka's own `Uuid.randomUuid()` draws again in that case; so does this.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable


def _random_bytes() -> bytes:
    return uuid.uuid4().bytes


def encode_cluster_id(raw: bytes) -> str:
    """Kafka's text form of a 16-byte id (what `kafka-storage.sh random-uuid` prints)."""
    if len(raw) != 16:
        raise ValueError(f"a cluster id is 16 bytes, got {len(raw)}")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def new_cluster_id(draw: Callable[[], bytes] = _random_bytes) -> str:
    """A fresh cluster id that no command-line parser can mistake for an option."""
    while True:
        candidate = encode_cluster_id(draw())
        if not candidate.startswith("-"):
            return candidate
