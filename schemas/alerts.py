"""Integrity alerts on ``arena.alerts``, raised by the book (ledger processor, replay, audit).

An alert carries the evidence a person needs to act without re-reading the topic: which event,
which seq, what the book expected and what it found. ``alert_id`` is derived from the event id and
the check, so re-processing the same event after a crash yields the same alert id (consumers dedupe).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from schemas.fields import ArenaId, SeqNo


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


def encode_alert(alert: ConservationAlert) -> bytes:
    return alert.model_dump_json().encode("utf-8")


def decode_alert(raw: bytes) -> ConservationAlert:
    return ConservationAlert.model_validate_json(raw)
