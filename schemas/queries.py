"""The answers of the worker's read-only HTTP endpoints: what a dashboard, a script or an engine reads.

The same rules as on the topics: money is ``{"amount": <int minor units>, "currency": "<ISO code>"}``
(never a float), ids match the wire patterns, and every answer about an arena names the ``seq`` it
reflects, so a client can line it up with the event topic. ``served_by`` says which worker answered,
from which partition's tables, and whether those tables held writes of a transaction that was not
committed yet (``committed: false``); the README ("Queries") says what a client should do then.

Exported as ``schemas/json/query.schema.json`` (one ``$defs`` entry per answer); the page that explains
them is ``schemas/README.md`` ("Queries over HTTP").
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.fields import AgentId, ArenaId, Count, SeqNo, Tier
from schemas.money import Currency, Money, SignedMoney

_ANSWER = ConfigDict(frozen=True, extra="forbid", json_schema_serialization_defaults_required=True)

ArenaStatus = Literal["active", "not_created"]
AgentStatus = Literal["alive", "killed"]


class ServedBy(BaseModel):
    """Who answered, from what."""

    model_config = _ANSWER

    worker: str = Field(description="the URL of the worker whose tables answered")
    partition: int = Field(description="the partition of the arena (murmur2 of its id), whose tables were read")
    committed: bool = Field(
        description="true when every write in that partition's tables was committed; false when the open "
        "transaction held writes not yet committed (they commit within ARENA_COMMIT_INTERVAL_S, or are "
        "rolled back if the worker dies first)"
    )


class ArenaSummary(BaseModel):
    model_config = _ANSWER

    arena_id: ArenaId
    status: ArenaStatus = Field(description="not_created: the arena has only refused commands (ARENA_NOT_FOUND)")
    currency: Currency | None
    seq: SeqNo = Field(description="the arena's last event seq the answer reflects")
    treasury: Money | None = Field(description="unallocated cash; null for an arena never created")
    agents_alive: Count
    served_by: ServedBy


class ArenaList(BaseModel):
    """Every arena on record (created or not), gathered from every worker of the group."""

    model_config = _ANSWER

    arenas: list[ArenaSummary]
    partitions: list[int] = Field(description="the partitions whose arenas are listed")
    missing_partitions: list[int] = Field(
        description="partitions no worker could answer for (a rebalance, a worker down): their arenas are missing"
    )
    complete: bool = Field(description="true when missing_partitions is empty")


class TierBreakdown(BaseModel):
    model_config = _ANSWER

    tier: Tier
    agents_alive: Count
    capital: Money = Field(description="the sum of the alive agents' balances in this tier")
    max_agents: Count = Field(description="the tier policy's limit on alive agents")
    budget_bps: Count = Field(description="the tier policy's share of capital, in basis points")


class AgentCounts(BaseModel):
    model_config = _ANSWER

    alive: Count
    killed: Count
    total: Count


class Conservation(BaseModel):
    """treasury + allocated == funded - withdrawn + pnl, which holds after every event."""

    model_config = _ANSWER

    holds: bool
    treasury_plus_allocated: SignedMoney
    funded_minus_withdrawn_plus_pnl: SignedMoney


class LedgerView(BaseModel):
    """The ledger processor's own book of the arena (postings only): the independent witness."""

    model_config = _ANSWER

    seq: SeqNo = Field(description="the last event the ledger processor has checked (at most the arena's seq)")
    compromised: bool = Field(description="an integrity alert holds the arena (see 'After an integrity alert')")
    agrees: bool | None = Field(
        description="at the same seq: whether the book's treasury, allocated, funded, withdrawn and PnL equal the "
        "state's; null when the ledger is behind"
    )


class ArenaBreakdown(BaseModel):
    """The capital allocation breakdown of one arena (the original get_capital_allocation_breakdown())."""

    model_config = _ANSWER

    arena_id: ArenaId
    status: ArenaStatus
    currency: Currency | None
    seq: SeqNo
    served_by: ServedBy
    treasury: Money | None
    funded: Money | None = Field(description="all money ever funded from outside")
    withdrawn: Money | None = Field(description="all money ever withdrawn")
    pnl: SignedMoney | None = Field(description="the sum of every agent's recorded PnL")
    allocated: Money | None = Field(description="capital held by alive agents, every tier together")
    tiers: list[TierBreakdown]
    agents: AgentCounts
    evolution_cycles: Count
    conservation: Conservation | None
    ledger: LedgerView | None = Field(description="null until the ledger processor has checked an event")


class AgentSummary(BaseModel):
    model_config = _ANSWER

    agent_id: AgentId
    tier: Tier
    status: AgentStatus
    generation: Count
    parent_id: AgentId | None
    balance: Money
    pnl: SignedMoney
    fitness_score: int = Field(description="return_bps - drawdown_bps // 2: how evolution ranks agents")


class AgentList(BaseModel):
    model_config = _ANSWER

    arena_id: ArenaId
    seq: SeqNo
    served_by: ServedBy
    tier: Tier | None = Field(description="the tier filter, if any")
    status: AgentStatus | None = Field(description="the status filter, if any")
    total: Count = Field(description="agents matching the filters (the list holds at most 'limit' of them)")
    agents: list[AgentSummary] = Field(description="in agent id order")


class Fitness(BaseModel):
    model_config = _ANSWER

    return_bps: int = Field(description="PnL against all capital ever allocated, basis points")
    drawdown_bps: int = Field(description="the deepest fall of the cumulative PnL, basis points of the same base")
    score: int
    records: Count = Field(description="PnL records: an agent with none is not judged yet")


class PnLSummary(BaseModel):
    model_config = _ANSWER

    total: SignedMoney
    records: Count
    peak: SignedMoney = Field(description="the highest point of the cumulative PnL (from 0)")
    max_drawdown: Money = Field(description="the deepest fall from a peak")


class AgentDetail(BaseModel):
    model_config = _ANSWER

    agent_id: AgentId
    tier: Tier
    status: AgentStatus
    generation: Count
    parent_id: AgentId | None
    children: list[AgentId] = Field(description="agents mutated from this one, in id order")
    born_seq: SeqNo
    genome: dict[str, int]
    balance: Money
    allocated_total: Money = Field(description="all capital ever allocated to the agent (the base of its fitness)")
    fitness: Fitness
    pnl: PnLSummary


class AgentAnswer(BaseModel):
    model_config = _ANSWER

    arena_id: ArenaId
    seq: SeqNo
    served_by: ServedBy
    agent: AgentDetail


class ErrorDetail(BaseModel):
    model_config = _ANSWER

    status: int = Field(description="the HTTP status, repeated")
    code: str = Field(
        description="ARENA_NOT_FOUND, AGENT_NOT_FOUND, BAD_QUERY, NOT_FOUND, METHOD_NOT_ALLOWED, UNAUTHORIZED, "
        "UNAVAILABLE (retry: a partition moving or recovering, a worker not answering) or INTERNAL"
    )
    message: str


class ErrorAnswer(BaseModel):
    """Every error, 4xx and 5xx alike: never a stack trace."""

    model_config = _ANSWER

    error: ErrorDetail


class Health(BaseModel):
    model_config = _ANSWER

    status: Literal["up"]
    worker: str
    app_id: str
    pid: int
    uptime_s: int


class Readiness(BaseModel):
    model_config = _ANSWER

    ready: bool
    reasons: list[str] = Field(description="why not ready; empty when ready")
    roles: list[str] = Field(description="the processors this worker runs: commands, ledger or both")
    assigned_partitions: list[int] = Field(
        description="partitions of the command topic its command processor holds (what queries are routed by)"
    )
    recovered_partitions: list[int] = Field(description="of those, the ones whose tables are recovered")
    ledger_partitions: list[int] = Field(
        default_factory=list,
        description="partitions of the event topic its ledger processor holds: a consumer group of its own, "
        "so they need not be the same numbers",
    )
    ledger_recovered_partitions: list[int] = Field(default_factory=list)
    worker: str


class TimelinePoint(BaseModel):
    """One sampling period. A rate is `commands * 1000 / span_ms` (integers here, as everywhere on the wire)."""

    model_config = _ANSWER

    at_ms: int = Field(description="the end of the period, epoch milliseconds (a multiple of period_ms)")
    span_ms: int = Field(description="the period's length: period_ms, or a few of them after a missed sample")
    commands: int = Field(description="command messages processed in the period")
    events_checked: int = Field(description="events checked by the ledger processor in the period")
    lag: int = Field(description="the group's lag at the end of the period, command and event topics together")


class Timeline(BaseModel):
    """Throughput and lag over the last minutes, every worker of the group added up."""

    model_config = _ANSWER

    period_ms: int
    points: list[TimelinePoint] = Field(description="oldest first")
    workers: int = Field(description="how many workers' samples are added up")


class RecentAlert(BaseModel):
    model_config = _ANSWER

    where: str = Field(description="topic[partition]@offset of the alert record")
    timestamp_ms: int
    check: str
    arena_id: str
    seq: int | None
    message: str


class RecentDeadLetter(BaseModel):
    model_config = _ANSWER

    where: str = Field(description="topic[partition]@offset of the dead letter")
    timestamp_ms: int
    reason: str
    message: str
    source: str = Field(description="topic[partition]@offset of the message that was dead-lettered")


class Recent(BaseModel):
    """The latest alerts and dead letters, newest first, read from their topics (the whole cluster's)."""

    model_config = _ANSWER

    alerts: list[RecentAlert]
    dead_letters: list[RecentDeadLetter]


ANSWERS: tuple[type[BaseModel], ...] = (
    ArenaList,
    ArenaBreakdown,
    AgentList,
    AgentAnswer,
    ErrorAnswer,
    Health,
    Readiness,
    Timeline,
    Recent,
)

__all__ = [
    "ANSWERS",
    "AgentAnswer",
    "AgentCounts",
    "AgentDetail",
    "AgentList",
    "AgentStatus",
    "AgentSummary",
    "ArenaBreakdown",
    "ArenaList",
    "ArenaStatus",
    "ArenaSummary",
    "Conservation",
    "ErrorAnswer",
    "ErrorDetail",
    "Fitness",
    "Health",
    "LedgerView",
    "PnLSummary",
    "Readiness",
    "Recent",
    "RecentAlert",
    "RecentDeadLetter",
    "ServedBy",
    "TierBreakdown",
    "Timeline",
    "TimelinePoint",
]
