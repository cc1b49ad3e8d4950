"""The trading-engine adapter: a JSON-lines feed of fills in, ``RecordPnL`` commands out.

Line format: one JSON object per line (UTF-8), for example::

    {"arena_id": "live-1", "agent_id": "a07", "fill_id": "F-000123", "pnl_minor": -1234,
     "currency": "USD", "period": 3, "ts_ms": 1700000000000}

=============  =============================================================================
field          meaning
=============  =============================================================================
``arena_id``   the arena (id pattern of ``schemas.fields.ArenaId``)
``agent_id``   the agent whose PnL this is (``AgentId`` pattern)
``fill_id``    the engine's id of the fill, unique within the arena (1..128 characters)
``pnl_minor``  signed PnL in integer minor units of ``currency``; a float (even ``1.0``), a
               bool or a string is refused
``currency``   ISO-4217-style code, 3 capital letters (must be the arena's currency)
``period``     the engine's period number (>= 0)
``ts_ms``      engine time of the fill, epoch milliseconds (>= 0); becomes ``issued_at``
=============  =============================================================================

Other fields are ignored, so engines may carry their own (price, quantity, side...). Blank lines
are skipped.

Each good line becomes ``RecordPnL(source="trading", fill_ref=fill_id)`` with the command id
``fill-{arena_id}-{fill_id}`` (a SHA-256 form when that would exceed 128 characters). A feed replayed
twice is therefore recorded once, twice over: the pipeline drops the repeated command id, and a
repeated fill ref that slips past the command-id window is refused as ``DUPLICATE_FILL``. The fill
id is the idempotency key: a corrected fill must carry a new fill id, a resend of an old one with
another amount is dropped like any repeat.

Bad lines never stop the feed and are never published. Each becomes a ``FeedError`` with its line
number, a typed reason, a message and the line's text, collected on ``FillFeed.errors`` (and passed to
``on_error`` as it happens). What the adapter checks is what would otherwise dead-letter the command:
JSON shape and types. Well-typed values the arena refuses (an unknown agent, a loss beyond the
balance, a wrong currency for the arena, an amount beyond +-(2**53 - 1)) are left to the pipeline,
which answers them with rejection events the engine can see.

Pass a binary stream (``sys.stdin.buffer``, ``open(path, "rb")``) to have bytes that are not UTF-8
reported per line; a text stream raises ``UnicodeDecodeError`` on them while it reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

from schemas.commands import RecordPnL
from schemas.fields import AgentId, ArenaId, EpochMillis, FillRef, Period
from schemas.money import Currency, RequestedMoney
from schemas.strict_json import non_finite_message, non_finite_number

MAX_LINE_CHARS: Final = 65_536
MAX_KEPT_ERRORS: Final = 10_000
"""``FillFeed.errors`` keeps the first this many; ``error_count`` counts them all."""
MAX_TEXT_CHARS: Final = 200
MAX_COMMAND_ID_CHARS: Final = 128
_MAX_DETAILS: Final = 5


class FeedErrorReason(StrEnum):
    TOO_LONG = "TOO_LONG"
    NOT_UTF8 = "NOT_UTF8"
    NOT_JSON = "NOT_JSON"
    NOT_AN_OBJECT = "NOT_AN_OBJECT"
    MISSING_FIELD = "MISSING_FIELD"
    WRONG_TYPE = "WRONG_TYPE"
    INVALID_VALUE = "INVALID_VALUE"


@dataclass(frozen=True, slots=True)
class FeedError:
    """A line that was not published: where, why, and what it said (shortened)."""

    line_no: int
    reason: FeedErrorReason
    message: str
    text: str

    def __str__(self) -> str:
        return f"line {self.line_no}: {self.reason.value}: {self.message}"


class Fill(BaseModel):
    """One line of the feed, typed."""

    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)

    arena_id: ArenaId
    agent_id: AgentId
    fill_id: FillRef
    pnl_minor: StrictInt
    currency: Currency
    period: Period
    ts_ms: EpochMillis


def fill_command_id(arena_id: str, fill_id: str) -> str:
    """The command id of a fill: readable when it fits, a digest of both ids when it does not."""
    readable = f"fill-{arena_id}-{fill_id}"
    if len(readable) <= MAX_COMMAND_ID_CHARS:
        return readable
    digest = hashlib.sha256(f"{arena_id}\x00{fill_id}".encode()).hexdigest()
    return f"fill-{arena_id}-~sha256-{digest[:40]}"


def fill_to_command(fill: Fill) -> RecordPnL:
    return RecordPnL(
        type="RecordPnL",
        command_id=fill_command_id(fill.arena_id, fill.fill_id),
        arena_id=fill.arena_id,
        issued_at=fill.ts_ms,
        agent_id=fill.agent_id,
        amount=RequestedMoney(amount=fill.pnl_minor, currency=fill.currency),
        period=fill.period,
        source="trading",
        fill_ref=fill.fill_id,
    )


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


def _json_type(value: Any) -> str:  # noqa: ANN401 - any decoded JSON value
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction or exponent"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "an array" if isinstance(value, list) else "an object"


_TYPE_ERRORS: Final = frozenset({"int_type", "string_type", "int_from_float", "bool_type", "model_type"})


def _classify(exc: ValidationError) -> tuple[FeedErrorReason, str]:
    errors = exc.errors(include_url=False)
    kinds = {err["type"] for err in errors}
    if "json_invalid" in kinds:
        return FeedErrorReason.NOT_JSON, str(errors[0]["msg"])
    if kinds == {"model_type"} and all(not err["loc"] for err in errors):
        return FeedErrorReason.NOT_AN_OBJECT, "a fill must be a JSON object"
    details: list[str] = []
    for err in errors[:_MAX_DETAILS]:
        name = ".".join(str(part) for part in err["loc"]) or "<root>"
        if err["type"] == "missing":
            details.append(f"{name}: required")
        elif err["type"] in _TYPE_ERRORS:
            wanted = "a JSON integer" if err["type"].startswith("int") else "a JSON string"
            if name == "pnl_minor":
                wanted = "a JSON integer of minor units"
            details.append(f"{name}: must be {wanted}, got {_json_type(err.get('input'))}")
        else:
            details.append(f"{name}: {err['msg']}")
    if len(errors) > _MAX_DETAILS:
        details.append(f"+{len(errors) - _MAX_DETAILS} more")
    if "missing" in kinds:
        reason = FeedErrorReason.MISSING_FIELD
    elif kinds & _TYPE_ERRORS:
        reason = FeedErrorReason.WRONG_TYPE
    else:
        reason = FeedErrorReason.INVALID_VALUE
    return reason, "; ".join(details)


def parse_fill_line(line: str | bytes, line_no: int) -> RecordPnL | FeedError | None:
    """One line of the feed: its command, why it is refused, or None for a blank line."""
    if isinstance(line, bytes):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as bad:
            shown = _shorten(line.decode("utf-8", errors="replace").rstrip("\r\n"))
            return FeedError(line_no, FeedErrorReason.NOT_UTF8, f"byte {bad.start} is not valid UTF-8", shown)
    else:
        text = line
    text = text.rstrip("\r\n")
    if not text.strip():
        return None
    if len(text) > MAX_LINE_CHARS:
        return FeedError(
            line_no, FeedErrorReason.TOO_LONG, f"{len(text)} characters, at most {MAX_LINE_CHARS}", _shorten(text)
        )
    token = non_finite_number(text)
    if token is not None:
        return FeedError(line_no, FeedErrorReason.NOT_JSON, non_finite_message(token), _shorten(text))
    try:
        fill = Fill.model_validate_json(text)
    except ValidationError as exc:
        reason, message = _classify(exc)
        return FeedError(line_no, reason, message, _shorten(text))
    return fill_to_command(fill)


class FillFeed:
    """Commands from a feed, read lazily (one pass: it may be stdin); bad lines land on ``errors``.

    ``for command in feed`` (or ``feed.commands()``) yields the ``RecordPnL`` of each good line in
    feed order. Counters are current up to the last line read.
    """

    def __init__(self, lines: Iterable[str | bytes], *, on_error: Callable[[FeedError], None] | None = None) -> None:
        self._lines = lines
        self._on_error = on_error
        self._started = False
        self.errors: list[FeedError] = []
        self.error_count = 0
        self.lines_read = 0
        self.accepted = 0

    def __iter__(self) -> Iterator[RecordPnL]:
        if self._started:
            raise RuntimeError("a fill feed is read once; open the source again for another pass")
        self._started = True
        for line_no, line in enumerate(self._lines, start=1):
            self.lines_read = line_no
            parsed = parse_fill_line(line, line_no)
            if parsed is None:
                continue
            if isinstance(parsed, FeedError):
                self.error_count += 1
                if len(self.errors) < MAX_KEPT_ERRORS:
                    self.errors.append(parsed)
                if self._on_error is not None:
                    self._on_error(parsed)
                continue
            self.accepted += 1
            yield parsed

    def commands(self) -> Iterator[RecordPnL]:
        return iter(self)


def read_fills(lines: Iterable[str | bytes], *, on_error: Callable[[FeedError], None] | None = None) -> FillFeed:
    """A ``FillFeed`` over ``lines`` (a file or stream opened in text or binary mode, or any iterable)."""
    return FillFeed(lines, on_error=on_error)
