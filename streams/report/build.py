"""The run report of the main job: a pure function of the decoded events plus a few run facts.

    report = build_report(events, facts)     # pure: folds the events, no Kafka, no clock, no I/O
    write_report(report, directory)          # index.html (self-contained) + summary.json
    print(summary_text(report))              # the console table

``build_report`` folds every arena with ``streams.domain.evolve`` (the rules are never re-implemented
here) and, on the way, keeps what the final states forget: end-of-day capital and population per
tier, and each agent's end-of-day balance. Day ``d`` of an arena is
``(occurred_at - occurred_at of the arena's first event) // 86_400_000``: engine time, so the same
events always give the same report. Engines may stamp commands slightly out of order; a day never
goes backwards within an arena (a late stamp counts in the current day).

Choices a reader of the report should know:
  * money is summed per currency, never across currencies; all numbers are ``int`` minor units;
  * the fitness ranking holds alive agents, best ``fitness_of`` score first; agents without any PnL
    record (nothing to judge yet) rank after all judged ones; ties go by agent id, then arena id;
  * alerts count once per ``alert_id`` (the ledger processor and the audit may both raise one);
  * the verdict is FAIL when there is any alert, any audit problem, or a problem found while folding
    (a seq gap, an already-applied seq seen again, or a final state that breaks an invariant).
    Rejections and dead letters are reported but are expected in a healthy run: they do not fail it.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, get_args

from schemas.alerts import ConservationAlert
from schemas.events import (
    AgentGraduated,
    AgentKilled,
    AgentMutated,
    AllocationError,
    CommandRejected,
    Event,
    EventType,
    EvolutionCycleComplete,
)
from schemas.fields import TIERS
from streams.domain import AgentState, ArenaState, SequenceGap, evolve, fitness_of, state_problems, touched_agents
from streams.domain.fitness import ranking_key
from streams.report.html import render_html
from streams.report.model import (
    ALL_CHECKS,
    ALL_REASONS,
    MAX_LISTED,
    CapitalSeries,
    CurrencyTotals,
    EquityCurve,
    JsonValue,
    Lineage,
    LineageNode,
    RankedAgent,
    Report,
    RunFacts,
    Verdict,
    zero_counts,
)
from streams.report.money import format_money

__all__ = ["Report", "RunFacts", "build_report", "summary_text", "write_report"]

DAY_MS: Final = 86_400_000
TOP_AGENTS: Final = 10
EQUITY_CURVES: Final = 5
ALL_EVENT_TYPES: Final[tuple[str, ...]] = get_args(EventType)

# One end-of-day snapshot of an arena: capital per tier (TIERS order), treasury, alive per tier.
_Snapshot = tuple[int, int, int, int, int, int, int]
_EMPTY_SNAPSHOT: Final[_Snapshot] = (0, 0, 0, 0, 0, 0, 0)


@dataclass
class _ArenaTrack:
    """One arena while folding: its state plus the history the state does not keep."""

    state: ArenaState
    first_at: int | None = None
    day: int = 0
    capital: dict[str, int] = field(default_factory=lambda: zero_counts(TIERS))
    daily: dict[int, _Snapshot] = field(default_factory=dict)
    balances: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    gap: str | None = None
    not_folded: int = 0
    redelivered: int = 0

    def day_of(self, occurred_at: int) -> int:
        if self.first_at is None:
            self.first_at = occurred_at
        self.day = max(self.day, (occurred_at - self.first_at) // DAY_MS)
        return self.day

    def apply(self, event: Event) -> bool:
        """Fold one event; False when it was not folded (after a gap, or a seq already applied)."""
        if self.gap is not None:
            self.not_folded += 1
            return False
        if event.seq <= self.state.last_seq:
            self.redelivered += 1
            return False
        before = self.state
        try:
            after = evolve(before, event)
        except SequenceGap as exc:
            self.gap = str(exc)
            self.not_folded += 1
            return False
        day = self.day_of(event.occurred_at)
        for agent_id in touched_agents(event):
            self._account(agent_id, before.agents.get(agent_id), after.agents.get(agent_id), day)
        self.state = after
        counts = after.tier_counts
        self.daily[day] = (
            self.capital["incubator"],
            self.capital["proving"],
            self.capital["arena"],
            after.treasury,
            counts.incubator,
            counts.proving,
            counts.arena,
        )
        return True

    def _account(self, agent_id: str, old: AgentState | None, new: AgentState | None, day: int) -> None:
        if old is not None and old.alive:
            self.capital[old.tier] -= old.balance
        if new is None:
            return
        if new.alive:
            self.capital[new.tier] += new.balance
        history = self.balances.setdefault(agent_id, [])
        if history and history[-1][0] == day:
            history[-1] = (day, new.balance)
        else:
            history.append((day, new.balance))

    @property
    def last_day(self) -> int:
        return max(self.daily, default=-1)

    def dense(self, days: int) -> list[_Snapshot]:
        """End-of-day snapshots for days ``0 .. days - 1``, carried forward over quiet days."""
        out: list[_Snapshot] = []
        current = _EMPTY_SNAPSHOT
        for day in range(days):
            current = self.daily.get(day, current)
            out.append(current)
        return out


def build_report(events: Iterable[Event], facts: RunFacts) -> Report:
    """The report of a run. ``events``: every arena's events, each arena's in seq order (arenas may
    interleave). Pure: the same events and facts give the same report."""
    tracks: dict[str, _ArenaTrack] = {}
    by_type: Counter[str] = Counter()
    by_reason: Counter[str] = Counter()
    by_command: Counter[str] = Counter()
    for event in events:
        track = tracks.get(event.arena_id)
        if track is None:
            track = tracks[event.arena_id] = _ArenaTrack(ArenaState.empty(event.arena_id))
        if not track.apply(event):
            continue
        by_type[event.type] += 1
        payload = event.payload
        if isinstance(payload, CommandRejected | AllocationError):
            by_reason[payload.reason.value] += 1
            by_command[payload.command_type] += 1

    ordered = [tracks[arena_id] for arena_id in sorted(tracks)]
    days = max((track.last_day for track in ordered), default=-1) + 1
    ranked = _ranking(ordered)
    history = _history_problems(ordered)
    alerts = _distinct(facts.alerts)
    alert_checks = Counter(alert.check.value for alert in alerts)
    verdict: Verdict = "FAIL" if alerts or facts.audit_problems or history else "PASS"
    alive_per_tier = zero_counts(TIERS)
    agents_ever = agents_killed = 0
    for track in ordered:
        for tier in TIERS:
            alive_per_tier[tier] += track.state.tier_counts.of(tier)
        agents_ever += len(track.state.agents)
        agents_killed += sum(1 for agent in track.state.agents.values() if not agent.alive)
    top = tuple(ranked[:TOP_AGENTS])
    return Report(
        verdict=verdict,
        arenas=sum(1 for track in ordered if track.state.exists),
        days=days,
        events_total=sum(by_type.values()),
        events_by_type={kind: by_type[kind] for kind in ALL_EVENT_TYPES},
        agents_alive_per_tier=alive_per_tier,
        agents_ever=agents_ever,
        agents_killed=agents_killed,
        money=_money(ordered),
        kills=by_type[AgentKilled.__name__],
        graduations=by_type[AgentGraduated.__name__],
        mutations=by_type[AgentMutated.__name__],
        evolution_cycles=by_type[EvolutionCycleComplete.__name__],
        rejections_by_reason={reason: by_reason[reason] for reason in ALL_REASONS},
        rejections_by_command=dict(sorted(by_command.items())),
        dead_letters=facts.dead_letters,
        dead_letter_reasons=dict(sorted(facts.dead_letter_reasons.items())),
        alerts_total=len(alerts),
        alerts_by_check={check: alert_checks[check] for check in ALL_CHECKS},
        alerts_listed=tuple(alerts[:MAX_LISTED]),
        audit_problems=tuple(facts.audit_problems),
        history_problems=tuple(history),
        commands_published=facts.commands_published,
        seconds=round(facts.seconds, 3),
        commands_per_second=round(facts.commands_published / facts.seconds, 1) if facts.seconds > 0 else None,
        settings={str(key): _jsonable(value) for key, value in sorted(facts.settings.items())},
        top_agents=top,
        capital_by_day=_capital_series(ordered, days),
        population_by_day=_population_series(ordered, days),
        equity_curves=tuple(_equity(tracks[agent.arena_id], agent, days) for agent in top[:EQUITY_CURVES]),
        lineage=_lineage(tracks[top[0].arena_id].state, top[0].agent_id) if top else None,
    )


def _distinct(alerts: list[ConservationAlert]) -> list[ConservationAlert]:
    """One alert per ``alert_id`` (first seen kept): the id is derived from the event and the check, so
    the same finding raised live and again by the audit, or redelivered, counts once."""
    seen: set[str] = set()
    distinct: list[ConservationAlert] = []
    for alert in alerts:
        if alert.alert_id not in seen:
            seen.add(alert.alert_id)
            distinct.append(alert)
    return distinct


def _history_problems(tracks: list[_ArenaTrack]) -> list[str]:
    problems: list[str] = []
    for track in tracks:
        arena_id = track.state.arena_id
        if track.gap is not None:
            problems.append(
                f"{track.gap}; this arena is reported as of seq {track.state.last_seq} "
                f"({track.not_folded} later event(s) not folded)"
            )
        if track.redelivered:
            problems.append(f"arena {arena_id}: {track.redelivered} event(s) repeated an already-applied seq")
        problems.extend(f"arena {arena_id}: {problem}" for problem in state_problems(track.state))
    return problems


def _money(tracks: list[_ArenaTrack]) -> tuple[CurrencyTotals, ...]:
    per_currency: dict[str, list[ArenaState]] = {}
    for track in tracks:
        if track.state.exists:
            per_currency.setdefault(track.state.currency, []).append(track.state)
    totals: list[CurrencyTotals] = []
    for currency, states in sorted(per_currency.items()):
        capital = zero_counts(TIERS)
        for state in states:
            for agent in state.alive_agents():
                capital[agent.tier] += agent.balance
        totals.append(
            CurrencyTotals(
                currency=currency,
                arenas=len(states),
                treasury=sum(state.treasury for state in states),
                funded=sum(state.funded_total for state in states),
                withdrawn=sum(state.withdrawn_total for state in states),
                pnl=sum(state.pnl_total for state in states),
                capital_per_tier=capital,
            )
        )
    return tuple(totals)


def _ranking(tracks: list[_ArenaTrack]) -> list[RankedAgent]:
    candidates: list[tuple[tuple[tuple[bool, int, str], str], ArenaState, AgentState]] = []
    for track in tracks:
        for agent in track.state.agents.values():
            if agent.alive:
                # The core's order; across arenas, the arena id breaks a tie of agent ids.
                key = (ranking_key(fitness_of(agent)), track.state.arena_id)
                candidates.append((key, track.state, agent))
    candidates.sort(key=lambda item: item[0])
    ranked: list[RankedAgent] = []
    for rank, (_, state, agent) in enumerate(candidates, start=1):
        fitness = fitness_of(agent)
        ranked.append(
            RankedAgent(
                rank=rank,
                arena_id=state.arena_id,
                agent_id=agent.agent_id,
                currency=state.currency,
                tier=agent.tier,
                alive=agent.alive,
                generation=agent.generation,
                parent_id=agent.parent_id,
                balance=agent.balance,
                allocated_total=agent.allocated_total,
                pnl=agent.pnl_total,
                records=agent.pnl_records,
                return_bps=fitness.return_bps,
                drawdown_bps=fitness.drawdown_bps,
                score=fitness.score,
            )
        )
        if rank == TOP_AGENTS:
            break
    return ranked


def _capital_series(tracks: list[_ArenaTrack], days: int) -> tuple[CapitalSeries, ...]:
    sums: dict[str, list[list[int]]] = {}  # currency -> [incubator, proving, arena, treasury] by day
    for track in tracks:
        if not track.state.exists:
            continue
        columns = sums.setdefault(track.state.currency, [[0] * days for _ in range(4)])
        for day, snapshot in enumerate(track.dense(days)):
            for column in range(4):
                columns[column][day] += snapshot[column]
    return tuple(
        CapitalSeries(
            currency=currency,
            per_tier={tier: tuple(columns[index]) for index, tier in enumerate(TIERS)},
            treasury=tuple(columns[3]),
        )
        for currency, columns in sorted(sums.items())
    )


def _population_series(tracks: list[_ArenaTrack], days: int) -> dict[str, tuple[int, ...]]:
    columns = [[0] * days for _ in TIERS]
    for track in tracks:
        for day, snapshot in enumerate(track.dense(days)):
            for index in range(len(TIERS)):
                columns[index][day] += snapshot[4 + index]
    return {tier: tuple(columns[index]) for index, tier in enumerate(TIERS)}


def _equity(track: _ArenaTrack, agent: RankedAgent, days: int) -> EquityCurve:
    """End-of-day balances from the agent's first day; an alive agent's curve runs to the last day."""
    history = track.balances.get(agent.agent_id, [])
    points: list[tuple[int, int]] = []
    if history:
        last = days - 1 if agent.alive else history[-1][0]
        known = dict(history)
        balance = 0
        for day in range(history[0][0], last + 1):
            balance = known.get(day, balance)
            points.append((day, balance))
    return EquityCurve(
        arena_id=track.state.arena_id, agent_id=agent.agent_id, currency=agent.currency, points=tuple(points)
    )


def _lineage(state: ArenaState, agent_id: str) -> Lineage:
    children: Counter[str] = Counter(a.parent_id for a in state.agents.values() if a.parent_id is not None)
    chain: list[LineageNode] = []
    seen: set[str] = set()
    current: str | None = agent_id
    complete = True
    while current is not None and current not in seen:
        agent = state.agents.get(current)
        if agent is None:
            complete = False
            break
        seen.add(current)
        fitness = fitness_of(agent)
        chain.append(
            LineageNode(
                agent_id=agent.agent_id,
                generation=agent.generation,
                tier=agent.tier,
                alive=agent.alive,
                parent_id=agent.parent_id,
                children=children[agent.agent_id],
                records=agent.pnl_records,
                return_bps=fitness.return_bps,
                drawdown_bps=fitness.drawdown_bps,
                score=fitness.score,
            )
        )
        current = agent.parent_id
    if current is not None and current in seen:
        complete = False  # a parent cycle; the core never builds one, but a report must not loop
    return Lineage(arena_id=state.arena_id, nodes=tuple(reversed(chain)), complete=complete)


def _jsonable(value: object) -> JsonValue:
    """Settings as JSON: scalars as they are, containers recursively, anything else as its str()."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_jsonable(item) for item in items]
    return str(value)


# ---- output -------------------------------------------------------------------------------------


def write_report(report: Report, directory: Path) -> tuple[Path, Path]:
    """Write ``index.html`` and ``summary.json`` into ``directory`` (created if missing).

    Each file is written beside its final name and renamed into place, so a reader never sees half a
    report."""
    directory.mkdir(parents=True, exist_ok=True)
    html_path = directory / "index.html"
    json_path = directory / "summary.json"
    _write_atomically(html_path, render_html(report))
    _write_atomically(json_path, json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    return html_path, json_path


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def summary_text(report: Report) -> str:
    """The console summary: a plain-text table of the headline numbers."""
    rows: list[tuple[str, str]] = [
        ("verdict", report.verdict),
        ("arenas", f"{report.arenas:,}"),
        ("days", f"{report.days:,}"),
        ("commands published", f"{report.commands_published:,}"),
        ("seconds", f"{report.seconds:,.1f}"),
        ("commands/s", "n/a" if report.commands_per_second is None else f"{report.commands_per_second:,.1f}"),
        ("events", f"{report.events_total:,}"),
        ("agents alive", f"{report.agents_alive:,} (ever {report.agents_ever:,}, killed {report.agents_killed:,})"),
    ]
    rows += [(f"  {tier}", f"{report.agents_alive_per_tier[tier]:,}") for tier in TIERS]
    for totals in report.money:
        code = totals.currency
        prefix = f"{code} " if len(report.money) > 1 else ""  # one block of rows per currency
        amounts = [(f"capital {tier}", totals.capital_per_tier[tier]) for tier in TIERS]
        amounts += [
            ("treasury", totals.treasury),
            ("funded", totals.funded),
            ("withdrawn", totals.withdrawn),
            ("PnL", totals.pnl),
        ]
        rows += [(f"{prefix}{label}", format_money(amount, code)) for label, amount in amounts]
    rows += [
        ("evolution cycles", f"{report.evolution_cycles:,}"),
        ("kills / graduations / mutations", f"{report.kills:,} / {report.graduations:,} / {report.mutations:,}"),
        ("rejections", f"{report.rejections_total:,}{_top_counts(report.rejections_by_reason)}"),
        ("dead letters", f"{report.dead_letters:,}{_top_counts(report.dead_letter_reasons)}"),
        ("alerts", f"{report.alerts_total:,}{_top_counts(report.alerts_by_check)}"),
        ("audit", "passed" if not report.audit_problems else f"{len(report.audit_problems):,} problem(s)"),
    ]
    if report.history_problems:
        rows.append(("history", f"{len(report.history_problems):,} problem(s)"))
    if report.top_agents:
        best = report.top_agents[0]
        rows.append(("best agent", f"{best.agent_id} ({best.arena_id}, {best.tier}, score {best.score:,} bps)"))
    width = max(len(label) for label, _ in rows)
    lines = [f"arena-ledger run report: {report.verdict}", "-" * (width + 24)]
    lines += [f"{label:<{width}}  {value}" for label, value in rows]
    problems = list(report.audit_problems[:5]) + list(report.history_problems[:5])
    lines += [f"! {problem}" for problem in problems]
    return "\n".join(lines)


def _top_counts(counts: Mapping[str, int], limit: int = 3) -> str:
    present = sorted(((n, key) for key, n in counts.items() if n), key=lambda item: (-item[0], item[1]))
    if not present:
        return ""
    shown = ", ".join(f"{key} {n:,}" for n, key in present[:limit])
    more = f", +{len(present) - limit} more" if len(present) > limit else ""
    return f" ({shown}{more})"
