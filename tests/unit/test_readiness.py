"""/ready answers 200 only when the worker does its job, and names every reason when it does not."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from streams.eos.fatal_exit import ExitCode
from streams.eos.gate import ProcessingGate
from streams.processors.command_processor import CommandProcessor
from streams.processors.ledger_processor import LedgerProcessor
from streams.store.arena_store import ArenaStore
from streams.store.ledger_store import LedgerStore
from streams.worker.web.readiness import ReadinessCheck
from streams.worker.web.served import Served

COMMANDS, EVENTS = "cmds", "evts"


def _role(name: str, topic: str, agent: str) -> Served:
    agents = {agent: SimpleNamespace(started=True, crashed=False)}
    app = SimpleNamespace(conf=SimpleNamespace(id=f"app-{name}"), should_stop=False, agents=agents, loop=None)
    gate = ProcessingGate(app)  # type: ignore[arg-type]
    gate.exit.grace_s = 0.01
    processor = (
        CommandProcessor(ArenaStore({}, {}, {}), partitions=4)
        if name == "commands"
        else LedgerProcessor(LedgerStore({}, {}))
    )
    return Served(name, app, gate, topic, processor)  # type: ignore[arg-type]


def _worker() -> tuple[ReadinessCheck, Served, Served]:
    commands = _role("commands", COMMANDS, "command-processor")
    ledger = _role("ledger", EVENTS, "ledger-processor")
    return ReadinessCheck([commands, ledger], url="http://w"), commands, ledger


def _assign(role: Served, partitions: set[int], *, recovered: bool = False) -> None:
    assigned = {TP(role.source_topic, p) for p in partitions}
    gate = role.gate
    gate.ownership.rebalanced(1, assigned, set(), assigned)
    gate.assigned, gate.transactions_open = frozenset(assigned), True
    if recovered:
        gate.ownership.recovered(partitions)


def test_a_starting_worker_is_not_ready_until_both_roles_are_assigned_recovered_and_started() -> None:
    check, commands, ledger = _worker()
    first = check.check()
    assert not first.ready and first.roles == ["commands", "ledger"]
    assert "commands: waiting for the first partition assignment" in first.reasons
    assert "ledger: waiting for the first partition assignment" in first.reasons
    assert any(r.startswith("starting") for r in first.reasons)
    _assign(commands, {0, 1})
    _assign(ledger, {1, 2})  # a group of its own: not the same partitions
    recovering = check.check()
    assert "commands: recovering the tables of partitions 0, 1" in recovering.reasons
    assert "ledger: recovering the tables of partitions 1, 2" in recovering.reasons
    assert recovering.recovered_partitions == [] and recovering.ledger_recovered_partitions == []
    commands.gate.ownership.recovered({0, 1})
    check.startup_finished = True
    half = check.check()
    assert half.reasons == ["ledger: recovering the tables of partitions 1, 2"]
    ledger.gate.ownership.recovered({1, 2})
    ready = check.check()
    assert ready.ready and ready.reasons == []
    assert ready.assigned_partitions == ready.recovered_partitions == [0, 1]
    assert ready.ledger_partitions == ready.ledger_recovered_partitions == [1, 2]


def test_a_rebalance_a_stopped_agent_or_an_empty_assignment_of_either_role_make_it_not_ready() -> None:
    check, commands, ledger = _worker()
    check.startup_finished = True
    _assign(commands, {0}, recovered=True)
    _assign(ledger, {0}, recovered=True)
    assert check.check().ready
    ledger.gate.transactions_open = False
    assert check.check().reasons == ["ledger: rebalancing: partitions are changing hands"]
    ledger.gate.transactions_open = True
    ledger.app.agents["ledger-processor"].crashed = True
    assert check.check().reasons == ["ledger: agents not running: ledger-processor"]
    ledger.app.agents["ledger-processor"].crashed = False
    _assign(commands, set())
    assert check.check().reasons == ["commands: no partitions assigned (more workers than partitions?)"]


def test_a_ledger_only_worker_answers_for_its_role_alone() -> None:
    ledger = _role("ledger", EVENTS, "ledger-processor")
    check = ReadinessCheck([ledger], url="http://w")
    check.startup_finished = True
    _assign(ledger, {3}, recovered=True)
    answer = check.check()
    assert answer.ready and answer.roles == ["ledger"]
    assert answer.assigned_partitions == [] and answer.ledger_partitions == [3]


def test_a_worker_on_its_way_out_is_not_ready() -> None:
    check, commands, ledger = _worker()
    check.startup_finished = True
    _assign(commands, {0}, recovered=True)
    _assign(ledger, {0}, recovered=True)
    commands.app.should_stop = True  # type: ignore[misc]  # a SimpleNamespace here
    assert check.check().reasons == ["stopping"]
    commands.app.should_stop = False  # type: ignore[misc]
    ledger.gate.exit.reason, ledger.gate.exit.code = "a transaction could not be committed", ExitCode.CRASHED
    (reason,) = check.check().reasons
    assert reason.startswith("failing: a transaction could not be committed")
