"""Integrity alerts on ``arena.alerts``, raised by the book (ledger processor, replay, audit).

An alert carries the evidence a person needs to act without re-reading the topic: which event,
which seq, what the book expected and what it found, and where the record sits (``source``).
``alert_id`` is derived from the event id and the check, so re-processing the same event after a
crash yields the same alert id (consumers dedupe).

The first record that fails a check makes its arena *compromised*: that record's alerts are followed
by one ``ARENA_COMPROMISED`` alert, and the arena's later records raise nothing each (see
``streams.domain.book`` and "After an integrity alert" in ``schemas/README.md``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import ArenaId, SeqNo, SourceRef


class Check(StrEnum):
    UNBALANCED_POSTINGS = "UNBALANCED_POSTINGS"
    POSTINGS_MISMATCH_PAYLOAD = "POSTINGS_MISMATCH_PAYLOAD"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    SEQ_GAP = "SEQ_GAP"
    SEQ_DUPLICATE = "SEQ_DUPLICATE"
    HASH_CHAIN_BROKEN = "HASH_CHAIN_BROKEN"
    HASH_MISMATCH = "HASH_MISMATCH"
    NEGATIVE_BALANCE = "NEGATIVE_BALANCE"
    KILLED_AGENT_HOLDS_CAPITAL = "KILLED_AGENT_HOLDS_CAPITAL"
    CONSERVATION_BROKEN = "CONSERVATION_BROKEN"
    CHECK_TOTALS_MISMATCH = "CHECK_TOTALS_MISMATCH"
    UNDECODABLE_EVENT = "UNDECODABLE_EVENT"
    ARENA_COMPROMISED = "ARENA_COMPROMISED"


CHECK_TITLES: Final[dict[Check, str]] = {
    Check.UNBALANCED_POSTINGS: "balanced postings",
    Check.POSTINGS_MISMATCH_PAYLOAD: "postings match payload",
    Check.UNKNOWN_ACCOUNT: "known accounts",
    Check.SEQ_GAP: "no seq gap",
    Check.SEQ_DUPLICATE: "no seq duplicate",
    Check.HASH_CHAIN_BROKEN: "unbroken hash chain",
    Check.HASH_MISMATCH: "hash matches the bytes",
    Check.NEGATIVE_BALANCE: "no negative account",
    Check.KILLED_AGENT_HOLDS_CAPITAL: "killed agents hold nothing",
    Check.CONSERVATION_BROKEN: "conservation",
    Check.CHECK_TOTALS_MISMATCH: "conservation-check totals",
    Check.UNDECODABLE_EVENT: "every record an event",
    Check.ARENA_COMPROMISED: "no arena compromised",
}
"""What each check holds to, as a person reads it (the audit prints one row per check)."""


class ConservationAlert(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str
    arena_id: ArenaId
    check: Check
    event_id: str
    seq: SeqNo
    expected: str
    actual: str
    message: str
    source: SourceRef | None = Field(default=None, description="where the record the alert is about sits")


def encode_alert(alert: ConservationAlert) -> bytes:
    return alert.model_dump_json().encode("utf-8")


def decode_alert(raw: bytes) -> ConservationAlert:
    return ConservationAlert.model_validate_json(raw)
