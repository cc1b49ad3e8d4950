"""The pure core's own conservation checks (the book is the second, independent one).

``transition_problems`` runs after every command, before its events are released. It compares two
independent derivations of the same change: the postings (``postings_of`` each payload) and the state
``evolve`` produced. Every account's posting delta must equal the matching state delta, and the
state must still satisfy the invariants. It costs O(events + postings + touched agents), never a scan
of the arena, so it can run on every command.

``state_problems`` re-derives everything from scratch (O(agents)); tests and audits use it.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas.events import Event
from schemas.money import MAX_MINOR
from streams.domain.accounts import EXTERNAL, MARKET, TREASURY, agent_account, agent_of
from streams.domain.book import ArenaBook
from streams.domain.rows import touched_agents
from streams.domain.state import ArenaState, TierCounts


def _header_problems(state: ArenaState) -> list[str]:
    problems: list[str] = []
    capital = state.treasury + state.agents_total
    net = state.funded_total - state.withdrawn_total + state.pnl_total
    if capital != net:
        problems.append(f"treasury + agents = {capital} but funded - withdrawn + pnl = {net}")
    for name, value in (
        ("treasury", state.treasury),
        ("agents_total", state.agents_total),
        ("funded_total", state.funded_total),
        ("withdrawn_total", state.withdrawn_total),
    ):
        if not 0 <= value <= MAX_MINOR:
            problems.append(f"{name} = {value} is outside [0, {MAX_MINOR}]")
    if abs(state.pnl_total) > MAX_MINOR:
        problems.append(f"pnl_total = {state.pnl_total} is outside +-{MAX_MINOR}")
    return problems


def transition_problems(before: ArenaState, after: ArenaState, events: Sequence[Event]) -> list[str]:
    """Why ``after`` is not ``before`` plus exactly the postings of ``events`` (empty if it is)."""
    problems: list[str] = []
    delta: dict[str, int] = {}
    touched: set[str] = set()
    for event in events:
        touched.update(touched_agents(event))
        for posting in event.postings:
            if posting.amount < 1 or posting.debit == posting.credit:
                problems.append(f"{event.event_id}: malformed posting {posting.debit}->{posting.credit}")
            delta[posting.debit] = delta.get(posting.debit, 0) + posting.amount
            delta[posting.credit] = delta.get(posting.credit, 0) - posting.amount
    agent_delta = 0
    for account, change in delta.items():
        agent_id = agent_of(account)
        if agent_id is not None:
            touched.add(agent_id)
            agent_delta += change
        elif account not in (TREASURY, EXTERNAL, MARKET):
            problems.append(f"posting to unknown account {account!r}")
    if after.treasury - before.treasury != delta.get(TREASURY, 0):
        problems.append(f"treasury moved by {after.treasury - before.treasury}, postings say {delta.get(TREASURY, 0)}")
    flows = (after.funded_total - before.funded_total) - (after.withdrawn_total - before.withdrawn_total)
    if flows != -delta.get(EXTERNAL, 0):
        problems.append(f"funded - withdrawn moved by {flows}, postings to external say {-delta.get(EXTERNAL, 0)}")
    if after.pnl_total - before.pnl_total != -delta.get(MARKET, 0):
        problems.append(
            f"pnl moved by {after.pnl_total - before.pnl_total}, postings to market say {-delta.get(MARKET, 0)}"
        )
    if after.agents_total - before.agents_total != agent_delta:
        problems.append(f"agents_total moved by {after.agents_total - before.agents_total}, postings say {agent_delta}")
    for agent_id in sorted(touched):
        old = before.agents.get(agent_id)
        new = after.agents.get(agent_id)
        if new is None:
            problems.append(f"postings name agent {agent_id}, which does not exist")
            continue
        moved = new.balance - (old.balance if old else 0)
        expected = delta.get("agent:" + agent_id, 0)
        if moved != expected:
            problems.append(f"agent {agent_id} balance moved by {moved}, postings say {expected}")
        if new.balance < 0:
            problems.append(f"agent {agent_id} balance {new.balance} is negative")
        if not new.alive and new.balance != 0:
            problems.append(f"killed agent {agent_id} still holds {new.balance}")
    problems.extend(_header_problems(after))
    return problems


def state_problems(state: ArenaState) -> list[str]:
    """Every invariant of ``state``, recomputed from all agents."""
    problems = _header_problems(state)
    total = 0
    counts = {"incubator": 0, "proving": 0, "arena": 0}
    for agent in state.agents.values():
        if agent.balance < 0:
            problems.append(f"agent {agent.agent_id} balance {agent.balance} is negative")
        if agent.alive:
            total += agent.balance
            counts[agent.tier] += 1
        elif agent.balance != 0:
            problems.append(f"killed agent {agent.agent_id} still holds {agent.balance}")
    if total != state.agents_total:
        problems.append(f"alive agents hold {total} but agents_total = {state.agents_total}")
    if TierCounts(**counts) != state.tier_counts:
        problems.append(f"alive agents per tier {counts} but tier_counts = {state.tier_counts}")
    return problems


def book_state_problems(book: ArenaBook, state: ArenaState) -> list[str]:
    """The ledger's book (built from postings only) and the state (built from payloads) must tell the same
    money story: the same treasury, the same running totals, the same balance in every agent's account.

    The audit runs this for every arena at the end of a replay: two independent derivations of the money
    that disagree mean a posting does not say what its payload did, or the other way round.
    """
    problems: list[str] = []
    for name, in_book, in_state in (
        ("treasury", book.treasury, state.treasury),
        ("funded", book.funded, state.funded_total),
        ("withdrawn", book.withdrawn, state.withdrawn_total),
        ("PnL", book.pnl, state.pnl_total),
    ):
        if in_book != in_state:
            problems.append(f"the book's {name} {in_book} differs from the state's {in_state}")
    for agent in state.agents.values():
        in_book = book.balance(agent_account(agent.agent_id))
        if in_book != agent.balance:
            problems.append(
                f"agent {agent.agent_id}: the book's balance {in_book} differs from the state's {agent.balance}"
            )
    return problems
