"""The run report: its numbers equal those obtained independently from the events and final states,
its HTML is one self-contained, escaped page, and its verdict fails on any alert or audit problem."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.alerts import Check, ConservationAlert
from schemas.events import (
    AgentSpawned,
    AllocationError,
    ArenaFunded,
    CommandRejected,
    Event,
    FundsWithdrawn,
    PnLRecorded,
)
from schemas.fields import TIERS
from schemas.money import MAX_MINOR
from streams.domain import ArenaState, fitness_of, fold
from streams.report.build import DAY_MS, RunFacts, build_report, summary_text, write_report
from streams.report.html import render_html
from streams.report.model import Report
from streams.report.money import compact_number, format_money
from tests.support.builders import EUR, Harness, arena, money, small_policies, with_agents

T0 = 1_700_000_000_000  # the builders' default issued_at: day 0 of arena-1
USD_START = T0 + 5 * 3_600_000  # arena-2 starts five hours later: its own day 0
HOSTILE = "<script>alert('x')</script>"


def at(day: int, minute: int = 0, start: int = T0) -> int:
    return start + day * DAY_MS + minute * 60_000


def _trade(h: Harness, day: int, amounts: dict[str, int], *, arena_id: str = "arena-1", currency: str = EUR) -> None:
    for agent_id, amount in amounts.items():
        h.do(
            "RecordPnL",
            arena_id=arena_id,
            agent_id=agent_id,
            amount=amount,
            currency=currency,
            period=day,
            source="simulation",
            issued_at=at(day, start=T0 if arena_id == "arena-1" else USD_START),
        )


def _euro_arena() -> Harness:
    """Two evolution cycles (kills, graduations, mutations), a hand mutation, rejections, a withdrawal."""
    h = with_agents(arena(funded=10_000_000), "a", "b", "c", "d", allocate=100_000)
    _trade(h, 1, {"a": 5_000, "b": 2_000, "c": 100, "d": -20_000})
    _trade(h, 2, {"a": 5_000, "b": 1_000, "c": -100, "d": 0})
    h.do("RunEvolutionCycle", cycle=1, issued_at=at(2, 1))
    h.do("AllocateCapital", agent_id="nobody", amount=money(1), issued_at=at(3))  # AllocationError
    h.do("KillAgent", agent_id="d", reason="again", issued_at=at(3))  # CommandRejected: already killed
    h.do("WithdrawFunds", amount=money(50_000), issued_at=at(3, 5))
    _trade(h, 4, {agent.agent_id: 3_000 for agent in h.state.alive_agents()})
    _trade(h, 5, {agent.agent_id: -1_000 for agent in h.state.alive_agents()})
    h.do("RunEvolutionCycle", cycle=2, issued_at=at(6))
    _trade(h, 7, {agent.agent_id: 2_000 for agent in h.state.alive_agents()} | {"c1-0": 120_000})
    return h


def _dollar_arena() -> Harness:
    """A second arena in another currency whose history stops on day 3 (carried forward after)."""
    h = Harness(state=ArenaState.empty("arena-2"))
    h.do("CreateArena", arena_id="arena-2", currency="USD", seed=7, issued_at=USD_START, **small_policies())
    h.do("FundArena", arena_id="arena-2", amount=money(3_000_000, "USD"), issued_at=USD_START)
    for agent_id in ("x", "y"):
        h.do("SpawnAgent", arena_id="arena-2", agent_id=agent_id, genome={"risk": 1}, issued_at=USD_START)
        h.do(
            "AllocateCapital", arena_id="arena-2", agent_id=agent_id, amount=money(200_000, "USD"), issued_at=USD_START
        )
    _trade(h, 1, {"x": 9_000, "y": -4_000}, arena_id="arena-2", currency="USD")
    h.do(
        "AllocateCapital",
        arena_id="arena-2",
        agent_id="x",
        amount=money(10**9, "USD"),
        issued_at=at(3, start=USD_START),
    )
    return h


def _ghost_arena() -> Harness:
    """Commands for an arena that was never created: rejections only, no money."""
    h = Harness(state=ArenaState.empty("ghost"))
    h.do("FundArena", arena_id="ghost", amount=money(5), issued_at=T0)
    return h


def _histories() -> list[list[Event]]:
    return [_euro_arena().events, _dollar_arena().events, _ghost_arena().events]


def _interleaved(histories: list[list[Event]]) -> list[Event]:
    """All arenas mixed by engine time, each arena still in seq order (sorted() is stable)."""
    return sorted((event for history in histories for event in history), key=lambda e: e.occurred_at)


def _facts(**changes: Any) -> RunFacts:
    base = RunFacts(
        commands_published=200,
        seconds=4.0,
        dead_letters=3,
        dead_letter_reasons={"NOT_JSON": 2, "UNKNOWN_COMMAND": 1},
        alerts=[],
        audit_problems=[],
        settings={"partitions": 4, "bootstrap": "127.0.0.1:9092", "topics": {"events": "arena.events"}},
    )
    return replace(base, **changes)


def _alert(message: str = "postings do not balance") -> ConservationAlert:
    return ConservationAlert(
        alert_id="e-1:0:UNBALANCED_POSTINGS",
        arena_id="arena-1",
        check=Check.UNBALANCED_POSTINGS,
        event_id="e-1:0",
        seq=3,
        expected="0",
        actual="5",
        message=message,
    )


@pytest.fixture(scope="module")
def histories() -> list[list[Event]]:
    return _histories()


@pytest.fixture(scope="module")
def events(histories: list[list[Event]]) -> list[Event]:
    return _interleaved(histories)


@pytest.fixture(scope="module")
def report(events: list[Event]) -> Report:
    return build_report(events, _facts())


@pytest.fixture(scope="module")
def states(events: list[Event]) -> dict[str, ArenaState]:
    return fold(events)


def _day(event: Event, starts: dict[str, int]) -> int:
    return (event.occurred_at - starts[event.arena_id]) // DAY_MS


def _starts(events: Iterable[Event]) -> dict[str, int]:
    starts: dict[str, int] = {}
    for event in events:
        starts.setdefault(event.arena_id, event.occurred_at)
    return starts


def _tier_capital(states: Iterable[ArenaState], currency: str) -> dict[str, int]:
    capital: dict[str, int] = dict.fromkeys(TIERS, 0)
    for state in states:
        if state.currency == currency:
            for agent in state.alive_agents():
                capital[agent.tier] += agent.balance
    return capital


# ---- the numbers --------------------------------------------------------------------------------


def test_history_exercises_what_the_report_counts(events: list[Event]) -> None:
    kinds = Counter(event.type for event in events)
    for kind in ("AgentKilled", "AgentGraduated", "AgentMutated", "EvolutionCycleComplete", "FundsWithdrawn"):
        assert kinds[kind] > 0, kind
    assert kinds["CommandRejected"] > 0 and kinds["AllocationError"] > 0


def test_event_counts_equal_counting_the_events_directly(report: Report, events: list[Event]) -> None:
    kinds = Counter(event.type for event in events)
    assert {kind: n for kind, n in report.events_by_type.items() if n} == dict(kinds)
    assert report.events_total == len(events)
    assert (report.kills, report.graduations, report.mutations, report.evolution_cycles) == (
        kinds["AgentKilled"],
        kinds["AgentGraduated"],
        kinds["AgentMutated"],
        kinds["EvolutionCycleComplete"],
    )


def test_rejections_are_counted_by_reason_and_command(report: Report, events: list[Event]) -> None:
    rejected = [e.payload for e in events if isinstance(e.payload, CommandRejected | AllocationError)]
    assert {reason: n for reason, n in report.rejections_by_reason.items() if n} == dict(
        Counter(p.reason.value for p in rejected)
    )
    assert dict(report.rejections_by_command) == dict(Counter(p.command_type for p in rejected))
    assert report.rejections_by_reason["AGENT_NOT_FOUND"] == 1
    assert report.rejections_by_reason["ARENA_NOT_FOUND"] == 1  # the ghost arena


def test_money_per_currency_equals_the_final_states_and_the_events(
    report: Report, events: list[Event], states: dict[str, ArenaState]
) -> None:
    assert [totals.currency for totals in report.money] == ["EUR", "USD"]
    assert report.arenas == 2  # the ghost arena never existed
    for totals in report.money:
        arena_ids = {a for a, state in states.items() if state.exists and state.currency == totals.currency}
        mine = [e for e in events if e.arena_id in arena_ids]
        assert totals.funded == sum(e.payload.amount.amount for e in mine if isinstance(e.payload, ArenaFunded))
        assert totals.withdrawn == sum(e.payload.amount.amount for e in mine if isinstance(e.payload, FundsWithdrawn))
        assert totals.pnl == sum(e.payload.amount.amount for e in mine if isinstance(e.payload, PnLRecorded))
        assert totals.treasury == sum(states[a].treasury for a in arena_ids)
        assert dict(totals.capital_per_tier) == _tier_capital(states.values(), totals.currency)
        assert totals.equity == totals.funded - totals.withdrawn + totals.pnl
    assert report.money[0].withdrawn == 50_000


def test_agents_per_tier_equal_the_final_states(report: Report, states: dict[str, ArenaState]) -> None:
    for tier in TIERS:
        assert report.agents_alive_per_tier[tier] == sum(s.tier_counts.of(tier) for s in states.values())
    assert report.agents_ever == sum(len(s.agents) for s in states.values())
    assert report.agents_killed == report.agents_ever - report.agents_alive
    assert report.agents_alive_per_tier["proving"] > 0


def test_run_facts_are_reported_as_given(report: Report) -> None:
    assert report.commands_published == 200
    assert report.commands_per_second == 50.0
    assert (report.dead_letters, dict(report.dead_letter_reasons)) == (3, {"NOT_JSON": 2, "UNKNOWN_COMMAND": 1})
    assert report.alerts_total == 0
    assert report.verdict == "PASS"
    assert build_report([], _facts(seconds=0.0)).commands_per_second is None


def test_top_agents_are_the_alive_agents_ranked_by_fitness(report: Report, states: dict[str, ArenaState]) -> None:
    alive = [(s, a) for s in states.values() for a in s.alive_agents()]
    expected = sorted(alive, key=lambda sa: (sa[1].pnl_records == 0, -fitness_of(sa[1]).score, sa[1].agent_id))
    assert [(r.arena_id, r.agent_id) for r in report.top_agents] == [(s.arena_id, a.agent_id) for s, a in expected[:10]]
    for row in report.top_agents:
        agent = states[row.arena_id].agents[row.agent_id]
        fitness = fitness_of(agent)
        assert (row.score, row.return_bps, row.drawdown_bps) == (
            fitness.score,
            fitness.return_bps,
            fitness.drawdown_bps,
        )
        assert (row.pnl, row.balance, row.tier, row.generation, row.parent_id) == (
            agent.pnl_total,
            agent.balance,
            agent.tier,
            agent.generation,
            agent.parent_id,
        )
    assert [row.rank for row in report.top_agents] == list(range(1, len(report.top_agents) + 1))


def test_daily_series_equal_folding_each_day_prefix(report: Report, events: list[Event]) -> None:
    starts = _starts(events)
    last_day = max(_day(e, starts) for e in events)
    assert report.days == last_day + 1
    for day in range(report.days):
        prefix = fold(e for e in events if _day(e, starts) <= day)
        for series in report.capital_by_day:
            capital = _tier_capital(prefix.values(), series.currency)
            assert {tier: series.per_tier[tier][day] for tier in TIERS} == capital, (series.currency, day)
            treasury = sum(s.treasury for s in prefix.values() if s.currency == series.currency)
            assert series.treasury[day] == treasury
        for tier in TIERS:
            assert report.population_by_day[tier][day] == sum(s.tier_counts.of(tier) for s in prefix.values())


def test_equity_curves_follow_the_best_agents_balances_day_by_day(report: Report, events: list[Event]) -> None:
    starts = _starts(events)
    assert [(c.arena_id, c.agent_id) for c in report.equity_curves] == [
        (r.arena_id, r.agent_id) for r in report.top_agents[:5]
    ]
    for curve in report.equity_curves:
        born = next(
            e
            for e in events
            if isinstance(e.payload, AgentSpawned)
            and e.arena_id == curve.arena_id
            and e.payload.agent_id == curve.agent_id
        )
        assert curve.points[0][0] == _day(born, starts)
        assert curve.points[-1][0] == report.days - 1
        for day, balance in curve.points:
            prefix = fold(e for e in events if e.arena_id == curve.arena_id and _day(e, starts) <= day)
            assert prefix[curve.arena_id].agents[curve.agent_id].balance == balance


def test_lineage_runs_from_generation_zero_to_the_top_agent(report: Report, states: dict[str, ArenaState]) -> None:
    lineage = report.lineage
    assert lineage is not None and lineage.complete
    top = report.top_agents[0]
    assert (top.agent_id, top.parent_id, len(lineage.nodes)) == ("c1-0", "a", 2)  # the cycle-1 child of a
    assert (lineage.arena_id, lineage.nodes[-1].agent_id) == (top.arena_id, top.agent_id)
    assert lineage.nodes[0].generation == 0 and lineage.nodes[0].parent_id is None
    for parent, child in zip(lineage.nodes, lineage.nodes[1:], strict=False):
        assert child.parent_id == parent.agent_id
        assert child.generation == parent.generation + 1
        assert parent.children == sum(
            1 for a in states[lineage.arena_id].agents.values() if a.parent_id == parent.agent_id
        )


def test_a_deep_lineage_is_followed_to_its_root() -> None:
    h = with_agents(arena(), "root", allocate=100_000)
    parent = "root"
    for generation in range(1, 4):
        child = f"m{generation}"
        h.do("MutateAgent", parent_id=parent, child_id=child, seed=generation)
        h.do("AllocateCapital", agent_id=child, amount=money(100_000))
        parent = child
    _trade(h, 1, {"root": -1_000, "m1": 100, "m2": 200, "m3": 9_000})
    report = build_report(h.events, _facts())
    assert report.lineage is not None
    assert [(n.agent_id, n.generation) for n in report.lineage.nodes] == [("root", 0), ("m1", 1), ("m2", 2), ("m3", 3)]
    assert [n.children for n in report.lineage.nodes] == [1, 1, 1, 0]


def test_the_report_does_not_depend_on_how_arenas_interleave(histories: list[list[Event]], report: Report) -> None:
    one_after_another = [event for history in histories for event in history]
    assert build_report(one_after_another, _facts()).to_json() == report.to_json()


# ---- verdict and damaged histories --------------------------------------------------------------


def test_an_alert_fails_the_run(events: list[Event]) -> None:
    report = build_report(events, _facts(alerts=[_alert()]))
    assert report.verdict == "FAIL"
    assert report.alerts_by_check["UNBALANCED_POSTINGS"] == 1
    assert '<header class="verdict fail">' in render_html(report)


def test_the_same_alert_raised_twice_counts_once(events: list[Event]) -> None:
    other = _alert().model_copy(update={"alert_id": "e-2:0:SEQ_GAP", "check": Check.SEQ_GAP})
    report = build_report(events, _facts(alerts=[_alert(), other, _alert()]))
    assert report.alerts_total == 2
    assert (report.alerts_by_check["UNBALANCED_POSTINGS"], report.alerts_by_check["SEQ_GAP"]) == (1, 1)


def test_an_audit_problem_fails_the_run(events: list[Event]) -> None:
    report = build_report(events, _facts(audit_problems=["arena-1: hash chain broken at seq 4"]))
    assert report.verdict == "FAIL"
    assert "hash chain broken at seq 4" in summary_text(report)


def test_a_clean_run_passes_in_green(report: Report) -> None:
    assert '<header class="verdict pass">' in render_html(report)
    assert summary_text(report).startswith("arena-ledger run report: PASS")


def test_a_seq_gap_is_reported_not_raised(histories: list[list[Event]]) -> None:
    euro = histories[0]
    damaged = euro[:10] + euro[11:]
    report = build_report(damaged, _facts())
    assert report.verdict == "FAIL"
    (problem,) = report.history_problems
    assert "expected seq 11, got 12" in problem
    assert f"{len(euro) - 11} later event(s) not folded" in problem
    assert report.events_total == 10


def test_a_repeated_event_is_reported(histories: list[list[Event]]) -> None:
    euro = histories[0]
    report = build_report([*euro[:5], euro[3], *euro[5:]], _facts())
    assert report.verdict == "FAIL"
    assert report.events_total == len(euro)
    assert any("already-applied seq" in problem for problem in report.history_problems)


def test_no_events_still_gives_a_report(tmp_path: Path) -> None:
    report = build_report([], _facts())
    assert (report.arenas, report.days, report.events_total, report.top_agents, report.lineage) == (0, 0, 0, (), None)
    html_path, json_path = write_report(report, tmp_path)
    assert "PASS" in html_path.read_text(encoding="utf-8")
    assert json.loads(json_path.read_text(encoding="utf-8"))["verdict"] == "PASS"


# ---- the files ----------------------------------------------------------------------------------


def test_html_is_one_self_contained_page_with_a_plot_each(report: Report, tmp_path: Path) -> None:
    html_path, _ = write_report(report, tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert html_path == tmp_path / "index.html"
    for forbidden in ("http://", "https://", "<script", "<link", "<img", "@import", "src="):
        assert forbidden not in page, forbidden
    assert re.search(r"url\((?!#)", page) is None  # only the in-page arrow marker
    figures = page.split("<figure>")[1:]
    assert len(figures) == 5  # capital EUR, capital USD, population, equity curves, lineage
    assert all("<svg" in figure.split("</figure>")[0] for figure in figures)
    for title in ("Capital by tier", "Alive agents by tier", "Equity curves", "Lineage of the best agent"):
        assert title in page
    assert page.count("<svg") == page.count("</svg>") == 5


def test_html_shows_money_formatted_from_minor_units(report: Report) -> None:
    page = render_html(report)
    euro = report.money[0]
    assert f"{euro.funded:,}" in page
    assert format_money(euro.funded, "EUR") in page
    assert format_money(report.money[1].treasury, "USD") in page


def test_html_escapes_every_hostile_string(events: list[Event]) -> None:
    report = build_report(
        events,
        _facts(
            alerts=[_alert(HOSTILE)],
            audit_problems=["<img src=x onerror=alert(1)>"],
            settings={"<b>key</b>": "</td><script>evil()</script>"},
            dead_letter_reasons={"<i>reason</i>": 1},
        ),
    )
    page = render_html(report)
    for raw in (HOSTILE, "<img", "<b>key</b>", "<script>evil", "<i>reason</i>"):
        assert raw not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;key&lt;/b&gt;" in page


def _ints_only(value: object, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _ints_only(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _ints_only(item, f"{where}[{index}]")
    else:
        assert type(value) is int, f"{where} = {value!r}"


def test_summary_json_round_trips_with_integer_money(report: Report, tmp_path: Path) -> None:
    _, json_path = write_report(report, tmp_path)
    doc = json.loads(json_path.read_text(encoding="utf-8"))
    assert doc == report.to_json()
    _ints_only(doc["money"], "money")
    _ints_only(doc["series"]["capital"], "series.capital")
    for row in doc["top_agents"]:
        for key in ("balance", "pnl", "allocated_total", "return_bps", "drawdown_bps", "score"):
            assert type(row[key]) is int
    for curve in doc["series"]["equity"]:
        _ints_only(curve["points"], "equity")
    assert doc["money"]["EUR"]["capital_per_tier"] == dict(report.money[0].capital_per_tier)
    assert list(doc["events_by_type"]) == list(report.events_by_type)  # every type, zeros included
    assert len(doc["events_by_type"]) == 14


def test_summary_json_keys_are_stable(report: Report) -> None:
    empty = build_report([], _facts()).to_json()
    full = report.to_json()
    assert list(empty) == list(full)
    for path in ("run", "agents", "evolution", "rejections", "rejections.by_reason", "dead_letters", "alerts"):
        assert list(_section(empty, path)) == list(_section(full, path)), path


def _section(doc: dict[str, Any], path: str) -> dict[str, Any]:
    for key in path.split("."):
        doc = doc[key]
    return doc


def test_console_summary_is_a_plain_table(report: Report) -> None:
    text = summary_text(report)
    assert "<" not in text
    assert re.search(r"commands/s\s+50\.0", text)
    assert format_money(report.money[0].capital_per_tier["incubator"], "EUR") in text
    assert "dead letters" in text and "NOT_JSON 2" in text


# ---- formatting ---------------------------------------------------------------------------------


def test_money_is_formatted_with_integer_arithmetic() -> None:
    assert format_money(1_234_567, "USD") == "12,345.67 USD"
    assert format_money(-5, "EUR") == "-0.05 EUR"
    assert format_money(0, "EUR") == "0.00 EUR"
    assert format_money(1_234, "JPY") == "1,234 JPY"
    assert format_money(1_234, "KWD") == "1.234 KWD"
    assert format_money(MAX_MINOR, "EUR") == "90,071,992,547,409.91 EUR"  # exact, where a float is not


@settings(max_examples=200, deadline=None)
@given(amount=st.integers(-MAX_MINOR, MAX_MINOR), currency=st.sampled_from(["EUR", "JPY", "BHD"]))
def test_formatted_money_reads_back_to_the_same_minor_units(amount: int, currency: str) -> None:
    text = format_money(amount, currency)
    assert text.endswith(f" {currency}")
    assert int(text.removesuffix(f" {currency}").replace(",", "").replace(".", "")) == amount


def test_axis_ticks_are_compact() -> None:
    assert compact_number(250_000_000, 100) == "2.5M"
    assert compact_number(1_002_500, 100) == "10.025k"
    assert compact_number(150) == "150"
    assert compact_number(-2_000) == "-2k"
    assert compact_number(5, 100) == "0.05"
