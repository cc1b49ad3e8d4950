"""The run report as one self-contained HTML page: inline CSS, inline SVG, no script, no URL.

Every piece of text that comes from data (ids, messages, settings, reasons) goes through
``html.escape``: an alert message or a setting is data, never markup.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Final

from schemas.fields import TIERS
from streams.report.model import CurrencyTotals, Report
from streams.report.money import compact_money, compact_number, format_money
from streams.report.svg import Axis, Band, Box, Line, chain_diagram, line_chart, shorten, stacked_chart

TIER_COLORS: Final = {"incubator": "#4e79a7", "proving": "#f28e2b", "arena": "#59a14f"}
TREASURY_COLOR: Final = "#c9c3bd"
AGENT_COLORS: Final = ("#e15759", "#4e79a7", "#59a14f", "#b07aa1", "#f28e2b")
ID_CHARS: Final = 20
TOTAL_ROW: Final = " class='total'"
DAY_AXIS: Final = Axis("day (since each arena's first event)", str)

_CSS: Final = """
:root { color-scheme: light; --ink: #1f2933; --muted: #5b6470; --line: #d9dde2; --pass: #1a7f37; --fail: #cf222e; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       background: #f6f7f9; }
main { max-width: 1180px; margin: 0 auto; padding: 8px 20px 40px; }
header.verdict { color: #fff; padding: 20px 0; }
header.verdict.pass { background: var(--pass); }
header.verdict.fail { background: var(--fail); }
header .inner { max-width: 1180px; margin: 0 auto; padding: 0 20px; }
header h1 { margin: 0; font-size: 28px; letter-spacing: .02em; }
header p { margin: 4px 0 0; opacity: .95; }
h2 { font-size: 18px; margin: 28px 0 10px; }
h3 { font-size: 14px; margin: 0 0 6px; }
section.card, figure { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px;
                       margin: 0 0 16px; }
figure svg { display: block; width: 100%; height: auto; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
.figure { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.figure b { display: block; font-size: 20px; font-variant-numeric: tabular-nums; }
.figure span { color: var(--muted); font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 16px;
        align-items: start; }
.grid > section.card { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: 4px 6px; border-bottom: 1px solid #eef0f2; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 1px solid var(--line); }
.problems li { color: var(--fail); font-family: ui-monospace, monospace; font-size: 12px; }
.muted { color: var(--muted); }
.ok { color: var(--pass); font-weight: 600; }
code, .mono, .id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.mono { overflow-wrap: anywhere; }
.id { white-space: nowrap; }
div.scroll { overflow-x: auto; }
.bad { color: var(--fail); font-weight: 600; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 6px; }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
"""


def render_html(report: Report) -> str:
    title = f"arena-ledger run report: {report.verdict}"
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        _header(report),
        "<main>",
        _figures(report),
        _problems(report),
        '<h2>Capital and agents</h2><div class="grid">',
        *(_money_table(totals) for totals in report.money),
        _agents_table(report),
        "</div>",
        "<h2>Capital and population over time</h2>",
        *(_capital_plot(report, index) for index in range(len(report.money))),
        _population_plot(report),
        "<h2>Best agents</h2>",
        _top_table(report),
        _equity_plot(report),
        _lineage(report),
        '<h2>Events, rejections, dead letters, alerts</h2><div class="grid">',
        _counts_table("Events by type", report.events_by_type, "type", total=report.events_total, zeros=True),
        _counts_table("Rejections by reason", report.rejections_by_reason, "reason", total=report.rejections_total),
        _counts_table("Rejections by command", report.rejections_by_command, "command"),
        _counts_table("Dead letters by reason", report.dead_letter_reasons, "reason", total=report.dead_letters),
        _counts_table("Alerts by check", report.alerts_by_check, "check", total=report.alerts_total),
        "</div>",
        "<h2>Settings</h2>",
        _settings(report),
        "<footer>Generated from the events of the run. Money is held in integer minor units and only "
        "formatted for display; summary.json holds the same numbers.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


# ---- header and problems ------------------------------------------------------------------------


def _header(report: Report) -> str:
    reasons: list[str] = []
    if report.alerts_total:
        reasons.append(f"{report.alerts_total:,} conservation/integrity alert(s)")
    if report.audit_problems:
        reasons.append(f"{len(report.audit_problems):,} audit problem(s)")
    if report.history_problems:
        reasons.append(f"{len(report.history_problems):,} problem(s) folding the events")
    why = "; ".join(reasons) if reasons else "no alerts, the audit passed, every arena's books balance"
    kind = "pass" if report.verdict == "PASS" else "fail"
    return (
        f'<header class="verdict {kind}"><div class="inner"><h1>{escape(report.verdict)}</h1>'
        f"<p>arena-ledger run report: {report.arenas:,} arena(s), {report.days:,} day(s), "
        f"{report.events_total:,} events</p><p>{escape(why)}</p></div></header>"
    )


def _figures(report: Report) -> str:
    rate = "n/a" if report.commands_per_second is None else f"{report.commands_per_second:,.1f}"
    figures = [
        ("commands published", f"{report.commands_published:,}"),
        ("commands/s", rate),
        ("seconds to lag 0", f"{report.seconds:,.1f}"),
        ("events", f"{report.events_total:,}"),
        ("arenas", f"{report.arenas:,}"),
        ("agents alive", f"{report.agents_alive:,}"),
        ("evolution cycles", f"{report.evolution_cycles:,}"),
        ("rejections", f"{report.rejections_total:,}"),
        ("dead letters", f"{report.dead_letters:,}"),
        ("alerts", f"{report.alerts_total:,}"),
        ("audit", "passed" if not report.audit_problems else f"{len(report.audit_problems):,} problem(s)"),
    ]
    cells = "".join(
        f'<div class="figure"><b>{escape(value)}</b><span>{escape(label)}</span></div>' for label, value in figures
    )
    return f'<div class="figures">{cells}</div>'


def _problems(report: Report) -> str:
    if report.verdict == "PASS":
        return ""
    out = ['<h2>Problems</h2><section class="card">']
    for heading, problems in (("Audit", report.audit_problems), ("Folding the events", report.history_problems)):
        if problems:
            items = "".join(f"<li>{escape(problem)}</li>" for problem in problems)
            out.append(f'<h3>{heading}</h3><ul class="problems">{items}</ul>')
    if report.alerts_listed:
        listed = len(report.alerts_listed)
        more = f" (first {listed:,} of {report.alerts_total:,})" if listed < report.alerts_total else ""
        rows = "".join(
            "<tr>"
            f"<td>{escape(alert.check.value)}</td>{_id_cell(alert.arena_id)}"
            f"<td class='num'>{alert.seq:,}</td>{_id_cell(alert.event_id)}"
            f"<td class='mono'>{escape(alert.expected)}</td><td class='mono'>{escape(alert.actual)}</td>"
            f"<td>{escape(alert.message)}</td></tr>"
            for alert in report.alerts_listed
        )
        out.append(
            f"<h3>Alerts{more}</h3><div class='scroll'><table>"
            "<tr><th>check</th><th>arena</th><th class='num'>seq</th><th>event</th>"
            f"<th>expected</th><th>actual</th><th>message</th></tr>{rows}</table></div>"
        )
    out.append("</section>")
    return "".join(out)


# ---- tables -------------------------------------------------------------------------------------


def _money_row(label: str, amount: int, currency: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return (
        f"<tr{klass}><td>{escape(label)}</td><td class='num'>{amount:,}</td>"
        f"<td class='num'>{escape(format_money(amount, currency))}</td></tr>"
    )


def _money_table(totals: CurrencyTotals) -> str:
    code = totals.currency
    rows = [_money_row(f"allocated: {tier}", totals.capital_per_tier[tier], code) for tier in TIERS]
    rows += [
        _money_row("allocated: all tiers", totals.agents_total, code, "total"),
        _money_row("treasury", totals.treasury, code),
        _money_row("equity (treasury + allocated)", totals.equity, code, "total"),
        _money_row("funded", totals.funded, code),
        _money_row("withdrawn", totals.withdrawn, code),
        _money_row("PnL", totals.pnl, code),
        _money_row("funded - withdrawn + PnL", totals.funded - totals.withdrawn + totals.pnl, code, "total"),
    ]
    balanced = totals.equity == totals.funded - totals.withdrawn + totals.pnl
    verdict = (
        '<span class="ok">conserved</span>'
        if balanced
        else '<span class="bad">NOT conserved: equity differs from funded - withdrawn + PnL</span>'
    )
    return (
        f'<section class="card"><h3>Capital: {escape(code)} ({totals.arenas:,} arena(s))</h3>'
        f"<table><tr><th></th><th class='num'>minor units</th><th class='num'>{escape(code)}</th></tr>"
        f"{''.join(rows)}</table><p>{verdict}</p></section>"
    )


def _agents_table(report: Report) -> str:
    rows = [f"<tr><td>{tier}</td><td class='num'>{report.agents_alive_per_tier[tier]:,}</td></tr>" for tier in TIERS]
    rows += [
        f"<tr class='total'><td>alive</td><td class='num'>{report.agents_alive:,}</td></tr>",
        f"<tr><td>killed</td><td class='num'>{report.agents_killed:,}</td></tr>",
        f"<tr><td>ever spawned</td><td class='num'>{report.agents_ever:,}</td></tr>",
    ]
    evolution = [
        ("evolution cycles", report.evolution_cycles),
        ("kills", report.kills),
        ("graduations", report.graduations),
        ("mutations", report.mutations),
    ]
    rows += [
        f"<tr{TOTAL_ROW if index == 0 else ''}><td>{label}</td><td class='num'>{n:,}</td></tr>"
        for index, (label, n) in enumerate(evolution)
    ]
    return (
        '<section class="card"><h3>Agents and evolution</h3>'
        f"<table><tr><th></th><th class='num'>count</th></tr>{''.join(rows)}</table></section>"
    )


def _id_cell(identifier: str) -> str:
    """An id on one line, shortened if long (the full id in the tooltip and in summary.json)."""
    return f"<td class='id' title='{escape(identifier)}'>{escape(shorten(identifier, ID_CHARS))}</td>"


def _counts_table(
    heading: str, counts: Mapping[str, int], key: str, *, total: int | None = None, zeros: bool = False
) -> str:
    rows = [
        f"<tr><td class='mono'>{escape(name)}</td><td class='num'>{n:,}</td></tr>"
        for name, n in counts.items()
        if n or zeros
    ]
    if not rows:
        rows = ["<tr><td class='muted' colspan='2'>none</td></tr>"]
    elif total is not None:
        rows.append(f"<tr class='total'><td>total</td><td class='num'>{total:,}</td></tr>")
    return (
        f'<section class="card"><h3>{escape(heading)}</h3>'
        f"<table><tr><th>{escape(key)}</th><th class='num'>count</th></tr>{''.join(rows)}</table></section>"
    )


def _top_table(report: Report) -> str:
    if not report.top_agents:
        return '<section class="card"><p class="muted">No alive agents.</p></section>'
    head = (
        "<tr><th class='num'>#</th><th>agent</th><th>arena</th><th>tier</th><th class='num'>gen</th><th>parent</th>"
        "<th class='num'>records</th><th class='num'>PnL</th><th class='num'>balance</th>"
        "<th class='num'>return bps</th><th class='num'>drawdown bps</th><th class='num'>score</th></tr>"
    )
    rows = "".join(
        "<tr>"
        f"<td class='num'>{agent.rank}</td>{_id_cell(agent.agent_id)}"
        f"{_id_cell(agent.arena_id)}<td>{escape(agent.tier)}</td>"
        f"<td class='num'>{agent.generation:,}</td>{_id_cell(agent.parent_id or '-')}"
        f"<td class='num'>{agent.records:,}</td>"
        f"<td class='num'>{escape(format_money(agent.pnl, agent.currency))}</td>"
        f"<td class='num'>{escape(format_money(agent.balance, agent.currency))}</td>"
        f"<td class='num'>{agent.return_bps:,}</td><td class='num'>{agent.drawdown_bps:,}</td>"
        f"<td class='num'>{agent.score:,}</td></tr>"
        for agent in report.top_agents
    )
    return (
        f'<section class="card"><h3>Top {len(report.top_agents)} alive agents by fitness</h3>'
        f"<div class='scroll'><table>{head}{rows}</table></div>"
        "<p class='muted'>score = return bps - drawdown bps / 2, as evolution ranks them; return and drawdown "
        "are measured against all capital ever allocated to the agent.</p>"
        "</section>"
    )


def _settings(report: Report) -> str:
    if not report.settings:
        return '<section class="card"><p class="muted">No settings were given.</p></section>'
    rows = "".join(
        f"<tr><td class='mono'>{escape(key)}</td><td class='mono'>{escape(_setting_text(value))}</td></tr>"
        for key, value in report.settings.items()
    )
    return f'<section class="card"><table><tr><th>setting</th><th>value</th></tr>{rows}</table></section>'


def _setting_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


# ---- plots --------------------------------------------------------------------------------------


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _capital_plot(report: Report, index: int) -> str:
    totals = report.money[index]
    series = next((s for s in report.capital_by_day if s.currency == totals.currency), None)
    if series is None or not report.days:
        return ""
    code = series.currency
    bands = [Band(tier, TIER_COLORS[tier], series.per_tier[tier]) for tier in TIERS]
    bands.append(Band("treasury", TREASURY_COLOR, series.treasury))
    svg = stacked_chart(
        f"Capital by tier, end of day ({code}, all {totals.arenas:,} arena(s) summed)",
        bands,
        DAY_AXIS,
        Axis(f"capital ({code})", lambda value: compact_money(value, code)),
    )
    return _figure(
        svg,
        "Allocated capital per tier stacked, with the unallocated treasury on top: the top edge is the arenas' "
        "equity (funded - withdrawn + PnL).",
    )


def _population_plot(report: Report) -> str:
    if not report.days:
        return ""
    lines = [Line(tier, TIER_COLORS[tier], list(enumerate(report.population_by_day[tier]))) for tier in TIERS]
    svg = line_chart(
        "Alive agents by tier, end of day (all arenas)", lines, DAY_AXIS, Axis("alive agents", compact_number)
    )
    return _figure(svg, "Evolution cycles kill the weakest, promote the best and refill the incubator.")


def _equity_plot(report: Report) -> str:
    curves = [curve for curve in report.equity_curves if curve.points]
    if not curves:
        return ""
    currencies = {curve.currency for curve in curves}
    if len(currencies) == 1:
        code = currencies.pop()
        y_axis = Axis(f"allocated balance ({code})", lambda value: compact_money(value, code))
    else:  # never add or compare amounts of different currencies on one scale of major units
        y_axis = Axis("allocated balance (minor units, mixed currencies)", compact_number)
    lines = [
        Line(f"#{rank} {curve.agent_id} ({curve.arena_id})", AGENT_COLORS[rank - 1], curve.points)
        for rank, curve in enumerate(curves, start=1)
    ]
    svg = line_chart(
        f"Equity curves of the {len(curves)} best agents (balance at end of day)",
        lines,
        DAY_AXIS,
        y_axis,
        zero_based=False,
    )
    return _figure(
        svg,
        "An agent's allocated balance including its PnL; steps are allocations and releases when an evolution "
        "cycle rebalances the tiers.",
    )


def _lineage(report: Report) -> str:
    lineage = report.lineage
    if lineage is None or not lineage.nodes:
        return ""
    top = lineage.nodes[-1]
    boxes = [
        Box(
            lines=(
                node.agent_id,
                f"generation {node.generation} · {node.tier}",
                f"{'alive' if node.alive else 'killed'} · {node.children} child{'ren' if node.children != 1 else ''}",
                f"score {node.score:,} · return {node.return_bps:,} bps",
            ),
            tooltip=(
                f"{node.agent_id}: generation {node.generation}, {node.tier}, "
                f"{'alive' if node.alive else 'killed'}, parent {node.parent_id or 'none'}, "
                f"{node.records} PnL records, return {node.return_bps} bps, drawdown {node.drawdown_bps} bps"
            ),
            highlight=node is top,
            muted=not node.alive,
        )
        for node in lineage.nodes
    ]
    svg = chain_diagram(f"Lineage of the best agent {top.agent_id} ({lineage.arena_id})", boxes, "lineage-arrow")
    note = (
        "Oldest ancestor first; each arrow is a mutation (parent to child). Dashed boxes are killed agents."
        if lineage.complete
        else "The chain stops at an ancestor whose parent is not in the arena's history."
    )
    return _figure(svg, note)
