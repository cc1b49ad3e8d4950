"""/ready answers 200 only when the worker does its job, and names every reason when it does not."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from streams.eos.fatal_exit import ExitCode
from streams.eos.gate import ProcessingGate
from streams.worker.web.readiness import ReadinessCheck

SOURCES = frozenset({"cmds", "evts"})


def _worker() -> tuple[ReadinessCheck, ProcessingGate, SimpleNamespace]:
    agents = {name: SimpleNamespace(started=True, crashed=False) for name in ("command-processor", "ledger-processor")}
    app = SimpleNamespace(conf=SimpleNamespace(id="app"), should_stop=False, agents=agents, loop=None)
    gate = ProcessingGate(app)  # type: ignore[arg-type]
    gate.exit.grace_s = 0.01
    return ReadinessCheck(app, gate, source_topics=SOURCES, url="http://w"), gate, app  # type: ignore[arg-type]


def _assign(gate: ProcessingGate, partitions: set[int]) -> None:
    assigned = {TP(topic, p) for topic in SOURCES for p in partitions}
    gate.ownership.rebalanced(1, assigned, set(), assigned)
    gate.assigned, gate.transactions_open = frozenset(assigned), True


def test_a_starting_worker_is_not_ready_until_assigned_recovered_and_started() -> None:
    check, gate, _app = _worker()
    first = check.check()
    assert not first.ready and "waiting for the first partition assignment" in first.reasons
    assert any(r.startswith("starting") for r in first.reasons)
    _assign(gate, {0, 1})
    recovering = check.check()
    assert "recovering the tables of partitions 0, 1" in recovering.reasons and recovering.recovered_partitions == []
    gate.ownership.recovered({0, 1})
    check.startup_finished = True
    ready = check.check()
    assert ready.ready and ready.reasons == [] and ready.assigned_partitions == ready.recovered_partitions == [0, 1]


def test_a_rebalance_a_stopped_agent_or_an_empty_assignment_each_make_it_not_ready() -> None:
    check, gate, app = _worker()
    check.startup_finished = True
    _assign(gate, {0})
    gate.ownership.recovered({0})
    assert check.check().ready
    gate.transactions_open = False
    assert "rebalancing: partitions are changing hands" in check.check().reasons
    gate.transactions_open = True
    app.agents["ledger-processor"].crashed = True
    assert "agents not running: ledger-processor" in check.check().reasons
    app.agents["ledger-processor"].crashed = False
    _assign(gate, set())
    assert "no partitions assigned (more workers than partitions?)" in check.check().reasons


def test_a_worker_on_its_way_out_is_not_ready() -> None:
    check, gate, app = _worker()
    check.startup_finished = True
    _assign(gate, {0})
    gate.ownership.recovered({0})
    app.should_stop = True
    assert check.check().reasons == ["stopping"]
    app.should_stop = False
    gate.exit.reason, gate.exit.code = "a transaction could not be committed", ExitCode.CRASHED
    (reason,) = check.check().reasons
    assert reason.startswith("failing: a transaction could not be committed")
