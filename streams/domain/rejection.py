"""A decision not to act, before it becomes a ``CommandRejected``/``AllocationError`` event."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.money import MAX_MINOR
from schemas.rejections import Reason


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: Reason
    message: str
    agent_id: str | None = None
    requested: int | None = None


def show(amount: int) -> str:
    """An amount for a message; huge values are summarised (``str`` of a 5000-digit int raises)."""
    if abs(amount) <= MAX_MINOR * 1_000_000:
        return str(amount)
    return f"{'-' if amount < 0 else ''}<{amount.bit_length()}-bit number>"
