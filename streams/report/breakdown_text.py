"""`arena query ARENA`: an arena's allocation breakdown on the terminal, the dashboard's figures as text.

The input is the endpoint's own answer (schemas/queries.py), so the terminal, the dashboard and any
HTTP client read the same figures. Amounts are shown in major units with exact integer arithmetic
(streams/report/money.py); `--json` prints the answer itself, in minor units.
"""

from __future__ import annotations

from schemas.money import Money, SignedMoney
from schemas.queries import AgentList, ArenaBreakdown
from streams.report.money import format_money


def _money(value: Money | SignedMoney | None) -> str:
    return "—" if value is None else format_money(value.amount, value.currency)


def breakdown_text(answer: ArenaBreakdown) -> str:
    served = answer.served_by
    state = "committed" if served.committed else "includes writes of the open transaction"
    lines = [
        f"arena {answer.arena_id} ({answer.currency or 'not created'})  seq {answer.seq}",
        f"  as of seq {answer.seq}: {served.worker}, partition {served.partition}, {state}",
    ]
    if answer.status != "active":
        lines.append(f"  never created: {answer.seq} refused command(s), nothing held")
        return "\n".join(lines)
    lines += [
        f"  treasury   {_money(answer.treasury):>24}   funded    {_money(answer.funded)}",
        f"  allocated  {_money(answer.allocated):>24}   withdrawn {_money(answer.withdrawn)}",
        f"  {'':<35}PnL       {_money(answer.pnl)}",
        "",
        f"  {'tier':<10} {'alive':>5} {'max':>5} {'budget':>7}  {'capital':>24}",
    ]
    for tier in answer.tiers:
        budget = f"{tier.budget_bps / 100:.2f}%"
        lines.append(
            f"  {tier.tier:<10} {tier.agents_alive:>5} {tier.max_agents:>5} {budget:>7}  {_money(tier.capital):>24}"
        )
    agents, cycles = answer.agents, answer.evolution_cycles
    lines += ["", f"  agents: {agents.alive} alive, {agents.killed} killed; evolution cycles: {cycles}"]
    if answer.conservation is not None:
        holds = "holds" if answer.conservation.holds else "BROKEN"
        lines.append(
            f"  conservation: treasury + allocated = funded - withdrawn + PnL {holds} "
            f"({_money(answer.conservation.treasury_plus_allocated)} / "
            f"{_money(answer.conservation.funded_minus_withdrawn_plus_pnl)})"
        )
    ledger = answer.ledger
    if ledger is None:
        lines.append("  ledger: no event checked yet")
    else:
        verdict = {True: "agrees", False: "DISAGREES", None: "behind the state"}[ledger.agrees]
        incident = "; COMPROMISED (see 'After an integrity alert')" if ledger.compromised else ""
        lines.append(f"  ledger: checked to seq {ledger.seq}, {verdict}{incident}")
    return "\n".join(lines)


def agents_text(answer: AgentList) -> str:
    lines = [f"  {'agent':<24} {'tier':<10} {'status':<7} {'gen':>3} {'balance':>22} {'PnL':>18} {'fitness':>8}"]
    for agent in answer.agents:
        lines.append(
            f"  {agent.agent_id:<24} {agent.tier:<10} {agent.status:<7} {agent.generation:>3} "
            f"{_money(agent.balance):>22} {_money(agent.pnl):>18} {agent.fitness_score:>8}"
        )
    if answer.total > len(answer.agents):
        lines.append(f"  … {answer.total - len(answer.agents)} more")
    return "\n".join(lines)
