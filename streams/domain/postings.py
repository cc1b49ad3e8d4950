"""The one rule that turns a payload into double-entry postings.

Used by ``execute`` to fill each envelope and by the book to detect postings that do not match
their payload (tampering, or a producer with a different rule). Zero amounts produce no posting.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel

from schemas.events import (
    AgentKilled,
    ArenaFunded,
    CapitalAllocated,
    CapitalReleased,
    FundsWithdrawn,
    PnLRecorded,
    Posting,
)
from streams.domain.accounts import EXTERNAL, MARKET, TREASURY, agent_account

Postings = tuple[Posting, ...]
_NONE: Final[Postings] = ()


def _move(debit: str, credit: str, amount: int) -> Postings:
    if amount == 0:
        return _NONE
    # Built without validation: the accounts are the core's own names and the amount a checked one.
    return (Posting.model_construct(debit=debit, credit=credit, amount=amount),)


def postings_of(payload: BaseModel) -> Postings:
    """Postings a payload implies; payloads that move no money imply none."""
    if isinstance(payload, PnLRecorded):
        account = agent_account(payload.agent_id)
        pnl = payload.amount.amount
        if pnl >= 0:
            return _move(account, MARKET, pnl)
        return _move(MARKET, account, -pnl)
    if isinstance(payload, CapitalAllocated):
        return _move(agent_account(payload.agent_id), TREASURY, payload.amount.amount)
    if isinstance(payload, CapitalReleased):
        return _move(TREASURY, agent_account(payload.agent_id), payload.amount.amount)
    if isinstance(payload, AgentKilled):
        return _move(TREASURY, agent_account(payload.agent_id), payload.returned.amount)
    if isinstance(payload, ArenaFunded):
        return _move(TREASURY, EXTERNAL, payload.amount.amount)
    if isinstance(payload, FundsWithdrawn):
        return _move(EXTERNAL, TREASURY, payload.amount.amount)
    return _NONE
