"""`/metrics`: the worker in Prometheus' text format, through prometheus-client.

Counting stays cheap on the hot path. The processors keep plain counts (a dict increment per message,
streams/processors/); a collector reads them only when Prometheus scrapes, so the counters *are* the
processors' counts. The exactly-once layer calls an observer once per unit (a batch) and once per commit
(streams/eos/observer.py): this module's observer feeds histograms with their label children looked up
once per topic, not per message. Lag comes from the sampler (off the event loop, streams/worker/web/sampler.py).

Names follow Prometheus' conventions: a `arena_` prefix, `_total` for counters, base units (`_seconds`).

    arena_commands_total{type,outcome}          command messages; outcome: accepted, rejected, duplicate,
                                                dead_lettered (type `unknown` when it never became a command)
    arena_events_total{type}                    events decided by the command processor
    arena_rejections_total{reason}              commands refused by the core
    arena_dead_letters_total{reason}            messages dead-lettered
    arena_ledger_events_total                   events checked by the ledger processor
    arena_alerts_total{check}                   conservation and integrity alerts
    arena_transaction_commit_duration_seconds   histogram of commits (drain + commit); _count is the commits
    arena_unit_duration_seconds{processor}      histogram: one unit's work (command, ledger); a unit is a
                                                batch of messages processed and committed together
    arena_unit_messages{processor}              histogram: messages per unit (the batch sizes)
    arena_record_latency_seconds{processor}     histogram: from the record's timestamp to its processing's end
    arena_consumer_lag_records{topic,partition} each role's group lag on the partitions it holds (sampled)
    arena_recovery_duration_seconds{partition}  the last recovery that loaded the partition's tables
    arena_recoveries_total                      recoveries that loaded tables
    arena_partitions_assigned{role}             partitions of its source topic each role holds
    arena_ready                                 1 when /ready answers 200
    process_*                                   the library's process collector: CPU seconds, memory, fds
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence

from faust.types import Message
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from schemas.queries import Readiness
from streams.eos.observer import EosObserver
from streams.processors.command_processor import ProcessorCounters
from streams.processors.ledger_processor import LedgerCounters

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_PROCESSING_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
_UNIT_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
_COMMIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

LagReading = Callable[[], Mapping[tuple[str, int], int]]


class _ProcessorCounts(Collector):
    """The processors' own counts, read at scrape time."""

    def __init__(
        self,
        commands: ProcessorCounters | None,
        ledger: LedgerCounters | None,
        readiness: Callable[[], Readiness],
        lag: LagReading,
    ) -> None:
        self._commands = commands
        self._ledger = ledger
        self._readiness = readiness
        self._lag = lag

    def collect(self) -> Iterator[Metric]:
        commands, ledger = self._commands, self._ledger
        if commands is not None:  # a worker without the role has no such series
            by_outcome = CounterMetricFamily(
                "arena_commands", "Command messages by command type and outcome.", labels=["type", "outcome"]
            )
            for (command_type, outcome), count in sorted(dict(commands.by_type_and_outcome).items()):
                by_outcome.add_metric([command_type, outcome], count)
            yield by_outcome
            yield _labelled(
                "arena_events", "Events decided by the command processor, by type.", "type", commands.events_by_type
            )
            yield _labelled(
                "arena_rejections", "Commands refused by the core, by reason.", "reason", commands.rejections_by_reason
            )
            yield _labelled(
                "arena_dead_letters", "Messages dead-lettered, by reason.", "reason", commands.by_dead_letter_reason
            )
        if ledger is not None:
            yield CounterMetricFamily(
                "arena_ledger_events", "Events checked by the ledger processor.", value=ledger.events
            )
            yield _labelled(
                "arena_alerts", "Conservation and integrity alerts raised, by check.", "check", ledger.alerts_by_check
            )
        readiness = self._readiness()
        yield GaugeMetricFamily("arena_ready", "1 when /ready answers 200.", value=int(readiness.ready))
        assigned = GaugeMetricFamily(
            "arena_partitions_assigned",
            "Partitions of its source topic each role of this worker holds (commands: the command topic, "
            "ledger: the event topic).",
            labels=["role"],
        )
        held = {"commands": readiness.assigned_partitions, "ledger": readiness.ledger_partitions}
        for role in readiness.roles:
            assigned.add_metric([role], len(held.get(role, [])))
        yield assigned
        lag = GaugeMetricFamily(
            "arena_consumer_lag_records",
            "The group's lag on each partition this worker holds (sampled; 0 when only transaction markers remain).",
            labels=["topic", "partition"],
        )
        for (topic, partition), records in sorted(self._lag().items()):
            lag.add_metric([topic, str(partition)], records)
        yield lag


def _labelled(name: str, documentation: str, label: str, counts: Mapping[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(dict(counts).items()):
        family.add_metric([value], count)
    return family


class WorkerMetrics(EosObserver):
    """The worker's registry, and the observer of its exactly-once layer."""

    def __init__(
        self,
        commands: ProcessorCounters | None,
        ledger: LedgerCounters | None,
        *,
        processors: Mapping[str, str],
        readiness: Callable[[], Readiness],
        lag: LagReading,
    ) -> None:
        # No `_created` series beside every counter and histogram: they double the exposition for nothing
        # a dashboard uses (a process-wide switch of the library; the worker's process is ours).
        disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in the library
        self.registry = CollectorRegistry()
        self._processors = dict(processors)  # topic -> processor label
        self._processing = Histogram(
            "arena_unit_duration_seconds",
            "One unit's work in its processor (a batch of messages: decode, decide, table writes, sends).",
            ["processor"],
            buckets=_PROCESSING_BUCKETS,
            registry=self.registry,
        )
        self._unit_size = Histogram(
            "arena_unit_messages",
            "Messages per unit: the batch sizes the worker processes and commits together.",
            ["processor"],
            buckets=_UNIT_SIZE_BUCKETS,
            registry=self.registry,
        )
        self._latency = Histogram(
            "arena_record_latency_seconds",
            "From a record's Kafka timestamp to the end of its processing (its commit follows within the "
            "commit interval).",
            ["processor"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._commit = Histogram(
            "arena_transaction_commit_duration_seconds",
            "Commits of the open transactions: draining queued sends, then committing; _count is the commits.",
            buckets=_COMMIT_BUCKETS,
            registry=self.registry,
        )
        self._recovery = Gauge(
            "arena_recovery_duration_seconds",
            "How long the last recovery that loaded the partition's tables from the committed changelog took.",
            ["partition"],
            registry=self.registry,
        )
        self._recoveries = Counter(
            "arena_recoveries", "Recoveries that loaded tables from the committed changelog.", registry=self.registry
        )
        self._children: dict[str, tuple[Histogram, Histogram, Histogram]] = {}
        self.registry.register(_ProcessorCounts(commands, ledger, readiness, lag))
        ProcessCollector(registry=self.registry)

    def unit_done(self, messages: Sequence[Message], seconds: float) -> None:
        if not messages:
            return
        topic = messages[0].topic  # a unit comes from one agent's stream: one topic
        children = self._children.get(topic)
        if children is None:
            label = self._processors.get(topic, "other")
            children = self._children[topic] = (
                self._processing.labels(label),
                self._unit_size.labels(label),
                self._latency.labels(label),
            )
        processing, size, latency = children
        processing.observe(seconds)
        size.observe(len(messages))
        now = time.time()
        for message in messages:
            if message.timestamp:
                latency.observe(max(0.0, now - message.timestamp))

    def committed(self, seconds: float) -> None:
        self._commit.observe(seconds)

    def recovered(self, partitions: Collection[int], seconds: float, rows: int) -> None:
        del rows
        if not partitions:
            return
        self._recoveries.inc()
        for partition in partitions:
            self._recovery.labels(str(partition)).set(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
