"""An arena's capital allocation breakdown and its agents, as the worker's endpoints answer them.

The original arena manager answered ``get_capital_allocation_breakdown()`` from its live state; here
the same answer is a pure function of an ``ArenaState`` (and, for the independent witness, the ledger's
``ArenaBook``), so the worker's live tables, a replay of the event topic and the changelog all give the
same breakdown for the same seq — which is what the tests compare. Who answered (``ServedBy``) is the
caller's to say.
"""

from __future__ import annotations

from schemas.fields import TIERS, Tier
from schemas.money import Money, SignedMoney
from schemas.queries import (
    AgentCounts,
    AgentDetail,
    AgentStatus,
    AgentSummary,
    ArenaBreakdown,
    ArenaSummary,
    Conservation,
    Fitness,
    LedgerView,
    PnLSummary,
    ServedBy,
    TierBreakdown,
)
from streams.domain.book import ArenaBook
from streams.domain.fitness import fitness_of
from streams.domain.state import AgentState, ArenaState


def summary_of(state: ArenaState, served_by: ServedBy) -> ArenaSummary:
    """One line of ``/arenas``: O(1), the header's running totals only."""
    currency = state.currency if state.exists else None
    return ArenaSummary(
        arena_id=state.arena_id,
        status="active" if state.exists else "not_created",
        currency=currency,
        seq=state.last_seq,
        treasury=_money(state.treasury, currency),
        agents_alive=state.tier_counts.alive,
        served_by=served_by,
    )


def breakdown_of(state: ArenaState, served_by: ServedBy, book: ArenaBook | None = None) -> ArenaBreakdown:
    """Treasury, totals, capital and agents per tier, conservation and the ledger's view: O(agents)."""
    currency = state.currency if state.exists else None
    killed = sum(1 for agent in state.agents.values() if not agent.alive)
    counts = AgentCounts(alive=len(state.agents) - killed, killed=killed, total=len(state.agents))
    if currency is None:
        return ArenaBreakdown(
            arena_id=state.arena_id,
            status="not_created",
            currency=None,
            seq=state.last_seq,
            served_by=served_by,
            treasury=None,
            funded=None,
            withdrawn=None,
            pnl=None,
            allocated=None,
            tiers=[],
            agents=counts,
            evolution_cycles=state.last_cycle,
            conservation=None,
            ledger=_ledger_view(state, book),
        )
    capital = state.capital_by_tier()
    held = state.treasury + state.agents_total
    owed = state.funded_total - state.withdrawn_total + state.pnl_total
    return ArenaBreakdown(
        arena_id=state.arena_id,
        status="active",
        currency=currency,
        seq=state.last_seq,
        served_by=served_by,
        treasury=Money(amount=state.treasury, currency=currency),
        funded=Money(amount=state.funded_total, currency=currency),
        withdrawn=Money(amount=state.withdrawn_total, currency=currency),
        pnl=SignedMoney(amount=state.pnl_total, currency=currency),
        allocated=Money(amount=state.agents_total, currency=currency),
        tiers=[_tier(state, tier, capital[tier], currency) for tier in TIERS],
        agents=counts,
        evolution_cycles=state.last_cycle,
        conservation=Conservation(
            holds=held == owed,
            treasury_plus_allocated=SignedMoney(amount=held, currency=currency),
            funded_minus_withdrawn_plus_pnl=SignedMoney(amount=owed, currency=currency),
        ),
        ledger=_ledger_view(state, book),
    )


def agents_of(
    state: ArenaState, *, tier: Tier | None = None, status: AgentStatus | None = None, limit: int | None = None
) -> tuple[int, list[AgentSummary]]:
    """How many of the arena's agents match the filters, and the first `limit` of them in agent id order
    (only those are built: an answer costs what it shows, not what the arena holds)."""
    matching: list[AgentState] = []
    for agent_id in sorted(state.agents.keys()):
        agent = state.agents[agent_id]
        if (tier is None or agent.tier == tier) and (status is None or _status(agent) == status):
            matching.append(agent)
    shown = matching if limit is None else matching[:limit]
    return len(matching), [
        AgentSummary(
            agent_id=agent.agent_id,
            tier=agent.tier,
            status=_status(agent),
            generation=agent.generation,
            parent_id=agent.parent_id,
            balance=Money(amount=agent.balance, currency=state.currency),
            pnl=SignedMoney(amount=agent.pnl_total, currency=state.currency),
            fitness_score=fitness_of(agent).score,
        )
        for agent in shown
    ]


def agent_detail(state: ArenaState, agent_id: str) -> AgentDetail | None:
    """One agent with its fitness, PnL summary, parent and children; None if the arena has no such agent."""
    agent = state.agents.get(agent_id)
    if agent is None:
        return None
    currency = state.currency
    fitness = fitness_of(agent)
    children = sorted(other.agent_id for other in state.agents.values() if other.parent_id == agent_id)
    return AgentDetail(
        agent_id=agent.agent_id,
        tier=agent.tier,
        status=_status(agent),
        generation=agent.generation,
        parent_id=agent.parent_id,
        children=children,
        born_seq=agent.born_seq,
        genome=dict(agent.genome),
        balance=Money(amount=agent.balance, currency=currency),
        allocated_total=Money(amount=agent.allocated_total, currency=currency),
        fitness=Fitness(
            return_bps=fitness.return_bps,
            drawdown_bps=fitness.drawdown_bps,
            score=fitness.score,
            records=fitness.records,
        ),
        pnl=PnLSummary(
            total=SignedMoney(amount=agent.pnl_total, currency=currency),
            records=agent.pnl_records,
            peak=SignedMoney(amount=agent.pnl_peak, currency=currency),
            max_drawdown=Money(amount=agent.max_drawdown, currency=currency),
        ),
    )


def _tier(state: ArenaState, tier: Tier, capital: int, currency: str) -> TierBreakdown:
    policy = state.tier_limits(tier)
    return TierBreakdown(
        tier=tier,
        agents_alive=state.tier_counts.of(tier),
        capital=Money(amount=capital, currency=currency),
        max_agents=policy.max_agents,
        budget_bps=policy.budget_bps,
    )


def _ledger_view(state: ArenaState, book: ArenaBook | None) -> LedgerView | None:
    if book is None or book.last_seq == 0:
        return None
    agrees = None
    if book.last_seq == state.last_seq:
        agrees = (book.treasury, book.agents_total, book.funded, book.withdrawn, book.pnl) == (
            state.treasury,
            state.agents_total,
            state.funded_total,
            state.withdrawn_total,
            state.pnl_total,
        )
    return LedgerView(seq=book.last_seq, compromised=book.compromise is not None, agrees=agrees)


def _status(agent: AgentState) -> AgentStatus:
    return "alive" if agent.alive else "killed"


def _money(amount: int, currency: str | None) -> Money | None:
    return None if currency is None else Money(amount=amount, currency=currency)
