"""/metrics: the processors' own counts in Prometheus' text format, parsed back by the client's parser."""

from __future__ import annotations

from types import SimpleNamespace

from prometheus_client.parser import text_string_to_metric_families

from schemas.queries import Readiness
from streams.processors.command_processor import ProcessorCounters
from streams.processors.ledger_processor import LedgerCounters
from streams.worker.web.metrics import WorkerMetrics


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _metrics(commands: ProcessorCounters, ledger: LedgerCounters) -> WorkerMetrics:
    readiness = Readiness(
        ready=True,
        reasons=[],
        roles=["commands", "ledger"],
        assigned_partitions=[0, 1],
        recovered_partitions=[0, 1],
        ledger_partitions=[1],
        ledger_recovered_partitions=[1],
        worker="w",
    )
    return WorkerMetrics(
        commands,
        ledger,
        processors={"cmds": "command", "evts": "ledger"},
        readiness=lambda: readiness,
        lag=lambda: {("cmds", 0): 3, ("evts", 1): 0},
    )


def test_the_exposition_parses_and_its_counters_are_the_processors_counts() -> None:
    commands, ledger = ProcessorCounters(), LedgerCounters()
    commands.outcome("FundArena", "accepted")
    commands.outcome("FundArena", "accepted")
    commands.outcome("WithdrawFunds", "rejected")
    commands.outcome("unknown", "dead_lettered")
    commands.events_by_type.update({"ArenaFunded": 2, "CommandRejected": 1})
    commands.rejections_by_reason["INSUFFICIENT_TREASURY"] = 1
    commands.by_dead_letter_reason["INVALID_JSON"] = 1
    ledger.events = 3
    ledger.alerts_by_check["SEQ_GAP"] = 2
    metrics = _metrics(commands, ledger)
    found = _samples(metrics.exposition().decode())

    assert found["arena_commands_total", (("outcome", "accepted"), ("type", "FundArena"))] == 2
    assert found["arena_commands_total", (("outcome", "rejected"), ("type", "WithdrawFunds"))] == 1
    assert found["arena_commands_total", (("outcome", "dead_lettered"), ("type", "unknown"))] == 1
    assert found["arena_events_total", (("type", "ArenaFunded"),)] == 2
    assert found["arena_rejections_total", (("reason", "INSUFFICIENT_TREASURY"),)] == 1
    assert found["arena_dead_letters_total", (("reason", "INVALID_JSON"),)] == 1
    assert found["arena_ledger_events_total", ()] == 3
    assert found["arena_alerts_total", (("check", "SEQ_GAP"),)] == 2
    assert found["arena_consumer_lag_records", (("partition", "0"), ("topic", "cmds"))] == 3
    assert found["arena_ready", ()] == 1
    assert found["arena_partitions_assigned", (("role", "commands"),)] == 2
    assert found["arena_partitions_assigned", (("role", "ledger"),)] == 1
    assert not [name for name, _labels in found if name.endswith("_created")]

    commands.outcome("FundArena", "accepted")  # read at scrape time: the next scrape sees it
    again = _samples(metrics.exposition().decode())
    assert again["arena_commands_total", (("outcome", "accepted"), ("type", "FundArena"))] == 3


def test_units_commits_and_recoveries_feed_their_histograms_and_gauges() -> None:
    metrics = _metrics(ProcessorCounters(), LedgerCounters())
    message = SimpleNamespace(topic="cmds", timestamp=None)
    for size in (1, 3, 60, 1):
        metrics.unit_done([message] * size, 0.002)  # type: ignore[list-item]
    metrics.unit_done([SimpleNamespace(topic="evts", timestamp=1.0)] * 2, 0.0001)  # type: ignore[list-item]
    metrics.unit_done([], 0.0)
    metrics.committed(0.03)
    metrics.recovered([2, 3], 0.4, 120)
    metrics.recovered([], 0.0, 0)
    found = _samples(metrics.exposition().decode())
    assert found["arena_unit_duration_seconds_count", (("processor", "command"),)] == 4
    assert found["arena_unit_duration_seconds_bucket", (("le", "0.0025"), ("processor", "command"))] == 4
    assert found["arena_unit_messages_sum", (("processor", "command"),)] == 65
    assert found["arena_unit_messages_bucket", (("le", "5.0"), ("processor", "command"))] == 3
    assert found["arena_unit_messages_bucket", (("le", "50.0"), ("processor", "command"))] == 3
    assert found["arena_unit_messages_bucket", (("le", "100.0"), ("processor", "command"))] == 4
    assert found["arena_record_latency_seconds_count", (("processor", "ledger"),)] == 2
    assert ("arena_record_latency_seconds_count", (("processor", "command"),)) in found
    assert found["arena_transaction_commit_duration_seconds_count", ()] == 1
    assert found["arena_recovery_duration_seconds", (("partition", "3"),)] == 0.4
    assert found["arena_recoveries_total", ()] == 1
    assert found["process_cpu_seconds_total", ()] > 0


def test_a_worker_without_the_command_role_has_no_command_series() -> None:
    readiness = Readiness(
        ready=True,
        reasons=[],
        roles=["ledger"],
        assigned_partitions=[],
        recovered_partitions=[],
        ledger_partitions=[0],
        ledger_recovered_partitions=[0],
        worker="w",
    )
    ledger = LedgerCounters()
    ledger.events = 5
    metrics = WorkerMetrics(None, ledger, processors={"evts": "ledger"}, readiness=lambda: readiness, lag=dict)
    found = _samples(metrics.exposition().decode())
    assert not [name for name, _labels in found if name.startswith(("arena_commands", "arena_events_total"))]
    assert found["arena_ledger_events_total", ()] == 5
    assert found["arena_partitions_assigned", (("role", "ledger"),)] == 1
    assert ("arena_partitions_assigned", (("role", "commands"),)) not in found
