"""Ledger account names of an arena.

``external`` (the world that funds and withdraws) and ``market`` (the counterparty of PnL) are
contra accounts: they go negative as money comes in. ``treasury`` and ``agent:<id>`` hold the
arena's capital and never go negative. The sum over all accounts of an arena is always zero.
"""

from __future__ import annotations

from typing import Final

EXTERNAL: Final = "external"
MARKET: Final = "market"
TREASURY: Final = "treasury"
AGENT_PREFIX: Final = "agent:"


def agent_account(agent_id: str) -> str:
    return AGENT_PREFIX + agent_id


def agent_of(account: str) -> str | None:
    """The agent id behind an ``agent:<id>`` account, or None for the arena-level accounts."""
    return account[len(AGENT_PREFIX) :] if account.startswith(AGENT_PREFIX) else None


def is_known(account: str) -> bool:
    return account in (EXTERNAL, MARKET, TREASURY) or (
        account.startswith(AGENT_PREFIX) and len(account) > len(AGENT_PREFIX)
    )
