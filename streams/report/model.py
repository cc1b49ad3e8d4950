"""What a run report holds: plain frozen dataclasses, and their one JSON form (``summary.json``).

The HTML page, the console summary and ``summary.json`` are all rendered from one ``Report``, so
they cannot disagree. Money is ``int`` minor units everywhere in here; only the renderers format it.
Keys of ``Report.to_json()`` are stable: every event type, rejection reason, alert check and tier is
present even when its count is zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from schemas.alerts import Check, ConservationAlert
from schemas.fields import TIERS
from schemas.rejections import Reason

REPORT_VERSION: Final = 1
# Alerts and problems beyond this many are counted, not listed (a broken run can raise thousands).
MAX_LISTED: Final = 100

Verdict = Literal["PASS", "FAIL"]
JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
JsonObject = dict[str, JsonValue]


@dataclass(frozen=True)
class RunFacts:
    """Facts the main job gathers from Kafka and from the run itself (not derivable from events)."""

    commands_published: int
    seconds: float  # wall time from the first publish to consumer lag 0
    dead_letters: int
    dead_letter_reasons: dict[str, int]
    alerts: list[ConservationAlert]
    audit_problems: list[str]  # empty when the audit passed
    settings: dict[str, object]  # redacted settings to print (never secrets)


@dataclass(frozen=True)
class CurrencyTotals:
    """Money of all arenas that keep their books in one currency (amounts are never summed across)."""

    currency: str
    arenas: int
    treasury: int
    funded: int
    withdrawn: int
    pnl: int
    capital_per_tier: Mapping[str, int]

    @property
    def agents_total(self) -> int:
        return sum(self.capital_per_tier.values())

    @property
    def equity(self) -> int:
        """Treasury plus allocated capital; conservation says it equals funded - withdrawn + PnL."""
        return self.treasury + self.agents_total

    def to_json(self) -> JsonObject:
        return {
            "arenas": self.arenas,
            "treasury": self.treasury,
            "capital_per_tier": {tier: self.capital_per_tier[tier] for tier in TIERS},
            "agents_total": self.agents_total,
            "equity": self.equity,
            "funded": self.funded,
            "withdrawn": self.withdrawn,
            "pnl": self.pnl,
        }


@dataclass(frozen=True)
class RankedAgent:
    """One row of the fitness ranking (``streams.domain.fitness_of`` on the agent's final state)."""

    rank: int
    arena_id: str
    agent_id: str
    currency: str
    tier: str
    alive: bool
    generation: int
    parent_id: str | None
    balance: int
    allocated_total: int
    pnl: int
    records: int
    return_bps: int
    drawdown_bps: int
    score: int

    def to_json(self) -> JsonObject:
        return {
            "rank": self.rank,
            "arena_id": self.arena_id,
            "agent_id": self.agent_id,
            "currency": self.currency,
            "tier": self.tier,
            "alive": self.alive,
            "generation": self.generation,
            "parent_id": self.parent_id,
            "balance": self.balance,
            "allocated_total": self.allocated_total,
            "pnl": self.pnl,
            "records": self.records,
            "return_bps": self.return_bps,
            "drawdown_bps": self.drawdown_bps,
            "score": self.score,
        }


@dataclass(frozen=True)
class LineageNode:
    agent_id: str
    generation: int
    tier: str
    alive: bool
    parent_id: str | None
    children: int
    records: int
    return_bps: int
    drawdown_bps: int
    score: int

    def to_json(self) -> JsonObject:
        return {
            "agent_id": self.agent_id,
            "generation": self.generation,
            "tier": self.tier,
            "alive": self.alive,
            "parent_id": self.parent_id,
            "children": self.children,
            "records": self.records,
            "return_bps": self.return_bps,
            "drawdown_bps": self.drawdown_bps,
            "score": self.score,
        }


@dataclass(frozen=True)
class Lineage:
    """The top agent and its ancestors, oldest first. ``complete`` is False when a parent is missing
    from the arena (the chain then starts at the oldest ancestor that is known)."""

    arena_id: str
    nodes: tuple[LineageNode, ...]
    complete: bool

    def to_json(self) -> JsonObject:
        return {"arena_id": self.arena_id, "complete": self.complete, "nodes": [n.to_json() for n in self.nodes]}


@dataclass(frozen=True)
class CapitalSeries:
    """End-of-day capital per tier and treasury, all arenas in ``currency`` summed; index = day."""

    currency: str
    per_tier: Mapping[str, tuple[int, ...]]
    treasury: tuple[int, ...]

    def to_json(self) -> JsonObject:
        series: JsonObject = {tier: list(self.per_tier[tier]) for tier in TIERS}
        series["treasury"] = list(self.treasury)
        return series


@dataclass(frozen=True)
class EquityCurve:
    """An agent's allocated balance (PnL included) at the end of each day, from its birth day on."""

    arena_id: str
    agent_id: str
    currency: str
    points: tuple[tuple[int, int], ...]  # (day, balance)

    def to_json(self) -> JsonObject:
        return {
            "arena_id": self.arena_id,
            "agent_id": self.agent_id,
            "currency": self.currency,
            "points": [[day, balance] for day, balance in self.points],
        }


@dataclass(frozen=True)
class Report:
    verdict: Verdict
    arenas: int
    days: int  # number of days covered (last day + 1); day 0 is each arena's first event
    events_total: int
    events_by_type: Mapping[str, int]
    agents_alive_per_tier: Mapping[str, int]
    agents_ever: int
    agents_killed: int
    money: tuple[CurrencyTotals, ...]  # one per currency, sorted by code
    kills: int
    graduations: int
    mutations: int
    evolution_cycles: int
    rejections_by_reason: Mapping[str, int]
    rejections_by_command: Mapping[str, int]
    dead_letters: int
    dead_letter_reasons: Mapping[str, int]
    alerts_total: int
    alerts_by_check: Mapping[str, int]
    alerts_listed: tuple[ConservationAlert, ...]
    audit_problems: tuple[str, ...]
    history_problems: tuple[str, ...]  # found while folding the events (seq gaps, broken invariants)
    commands_published: int
    seconds: float
    commands_per_second: float | None  # None when no time was measured
    settings: Mapping[str, JsonValue]
    top_agents: tuple[RankedAgent, ...]
    capital_by_day: tuple[CapitalSeries, ...]
    population_by_day: Mapping[str, tuple[int, ...]]
    equity_curves: tuple[EquityCurve, ...]
    lineage: Lineage | None
    version: int = field(default=REPORT_VERSION)

    @property
    def agents_alive(self) -> int:
        return sum(self.agents_alive_per_tier.values())

    @property
    def rejections_total(self) -> int:
        return sum(self.rejections_by_reason.values())

    def to_json(self) -> JsonObject:
        """The document written to ``summary.json``."""
        return {
            "report_version": self.version,
            "verdict": self.verdict,
            "problems": {
                "alerts": self.alerts_total,
                "audit": list(self.audit_problems),
                "history": list(self.history_problems),
            },
            "run": {
                "commands_published": self.commands_published,
                "seconds": self.seconds,
                "commands_per_second": self.commands_per_second,
                "events": self.events_total,
                "arenas": self.arenas,
                "days": self.days,
            },
            "agents": {
                "alive_per_tier": {tier: self.agents_alive_per_tier[tier] for tier in TIERS},
                "alive": self.agents_alive,
                "killed": self.agents_killed,
                "ever": self.agents_ever,
            },
            "money": {totals.currency: totals.to_json() for totals in self.money},
            "evolution": {
                "cycles": self.evolution_cycles,
                "kills": self.kills,
                "graduations": self.graduations,
                "mutations": self.mutations,
            },
            "events_by_type": dict(self.events_by_type),
            "rejections": {
                "total": self.rejections_total,
                "by_reason": dict(self.rejections_by_reason),
                "by_command": dict(self.rejections_by_command),
            },
            "dead_letters": {"total": self.dead_letters, "by_reason": dict(self.dead_letter_reasons)},
            "alerts": {
                "total": self.alerts_total,
                "by_check": dict(self.alerts_by_check),
                "listed": [alert.model_dump(mode="json") for alert in self.alerts_listed],
            },
            "top_agents": [agent.to_json() for agent in self.top_agents],
            "lineage": None if self.lineage is None else self.lineage.to_json(),
            "series": {
                "days": self.days,
                "capital": {series.currency: series.to_json() for series in self.capital_by_day},
                "population": {tier: list(self.population_by_day[tier]) for tier in TIERS},
                "equity": [curve.to_json() for curve in self.equity_curves],
            },
            "settings": dict(self.settings),
        }


def zero_counts(keys: tuple[str, ...] | list[str]) -> dict[str, int]:
    return dict.fromkeys(keys, 0)


ALL_REASONS: Final = tuple(reason.value for reason in Reason)
ALL_CHECKS: Final = tuple(check.value for check in Check)
