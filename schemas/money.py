"""Money on the wire: integer minor units, never floats.

Every amount is an ``int`` of minor units (cents for EUR). The bound ``MAX_MINOR = 2**53 - 1`` is
the largest integer every JSON reader (JavaScript included) represents exactly, so any amount we
*emit* survives any consumer unchanged.

Two families of types live here because commands and events trust different things:

* ``RequestedAmount`` / ``RequestedMoney`` (commands): any strict JSON integer. A negative or huge
  amount is well-typed, so it is not a malformed message; the pure core rejects it with
  ``AMOUNT_OUT_OF_RANGE`` and that rejection becomes an event the sender can see. A float (even
  ``1.0``), a bool or a string is the wrong *type* and fails decoding (dead letter).
* ``MinorUnits`` / ``SignedMinorUnits`` / ``Money`` / ``SignedMoney`` (events): bounded, because the
  core only emits amounts it has checked.

Every amount on the wire is an object ``{"amount": <int>, "currency": "<ISO code>"}``; a PnL is the
same object with a signed amount (``RecordPnL`` before command schema v2 and ``PnLRecorded`` before
event schema v3 carried a bare signed integer next to a separate ``currency``; see
``schemas.upcasting``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

MAX_MINOR = 2**53 - 1

Currency = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{3}$")]
MinorUnits = Annotated[StrictInt, Field(ge=0, le=MAX_MINOR)]
PositiveMinorUnits = Annotated[StrictInt, Field(ge=1, le=MAX_MINOR)]
SignedMinorUnits = Annotated[StrictInt, Field(ge=-MAX_MINOR, le=MAX_MINOR)]
RequestedAmount = StrictInt


class Money(BaseModel):
    """An amount the core has already range-checked."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    amount: MinorUnits
    currency: Currency


class SignedMoney(BaseModel):
    """A signed change the core has range-checked (a PnL: positive is a profit, negative a loss)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    amount: SignedMinorUnits
    currency: Currency


class RequestedMoney(BaseModel):
    """An amount as a sender asked for it: typed, but not yet judged (see module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    amount: RequestedAmount
    currency: Currency


def in_range(amount: int) -> bool:
    """True when ``amount`` may be held in any balance or cumulative total."""
    return 0 <= amount <= MAX_MINOR
