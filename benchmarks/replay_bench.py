"""Replay benchmark: the project's replay of an event topic against a bare consumer of the same topic.

    python -m benchmarks.replay_bench [--events 1000000 --partitions 4 --repeat 2 --json out.json --keep-topic]

The events are real: a seeded simulation (``producers.simulation``, ``2 x partitions`` arenas of 500
agents, an evolution cycle every 5 days) decided by the pure core, encoded with ``encode_event`` and
produced (idempotent, lz4, key = arena id, partition = ``partition_for``) to this benchmark's own topic
``bench-replay-{events}-p{partitions}-arena.events`` on the project's cluster (``ensure_cluster``: the
local KRaft broker unless ``KAFKA_BOOTSTRAP_SERVERS`` is set). Generation stops at the first command
boundary at or past ``--events``. With ``--keep-topic`` the topic stays and the next run reuses it;
without, it is deleted at the end.

Figures (best of ``--repeat`` rounds, alternating order, same topic, same process):
  baseline  a bare confluent-kafka Consumer with the reader's settings (read_committed), each partition
            assigned at its low watermark, ``consume()`` in batches with a short timeout until each
            partition's end offset, taking each value's length and decoding nothing: the floor any
            reader of the topic pays;
  reader    ``streams.kafka.topic_reader.read_snapshot`` called as ``replay`` calls it (start 0, stop = the
            end offsets), records counted;
  decode    reader + ``decode_event_with_digest`` of every value (JSON, digest of the bytes as written,
            upcast, pydantic validation), no book, no fold;
  replay    ``streams.history.replay.replay(keep_events=False)``: decode + the book's checks + ``evolve`` + the
            whole-state checks; must PASS having read and folded every event of the topic.
``--profile FILE`` then runs one more replay under cProfile and prints its top functions.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import math
import os
import pstats
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from producers.simulation import SimulationConfig, simulate
from schemas.events import decode_event_with_digest, encode_event
from streams.broker.cluster import ensure_cluster
from streams.broker.launcher import LocalBroker
from streams.history.replay import replay
from streams.kafka.partitioning import PRODUCER_PARTITIONER, partition_for
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import TopicRecord, end_offsets, read_snapshot
from streams.kafka.topics import create_topics, describe_topics, topic_layout

AGENTS_PER_ARENA: Final = 500
ARENAS_PER_PARTITION: Final = 2
SEED: Final = 7
BATCH: Final = 10_000  # messages per consume() call, as read_snapshot
TIMEOUT_S: Final = 1_800.0
PROGRESS_EVERY: Final = 100_000

FIGURES: Final[dict[str, str]] = {
    "baseline": "baseline: bare consumer, len(value)",
    "reader": "reader: topic_reader.read_snapshot",
    "decode": "decode: reader + decode_event_with_digest",
    "replay1": "replay: replay(keep_events=False), one process",
    "replay": "replay: replay(keep_events=False), a process per core",
}


class BenchError(RuntimeError):
    """The benchmark could not measure what it claims (failed delivery, short read, failed audit)."""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the topic ----------------------------------------------------------------------------------


@dataclass(slots=True)
class TopicInfo:
    name: str
    events: int
    reused: bool
    produce_seconds: float = 0.0
    arenas: int = 0
    mix: dict[str, int] = field(default_factory=dict)


def bench_settings(events: int, partitions: int) -> Settings:
    """The project's cluster, with this benchmark's own topic names (never the pipeline's)."""
    base = ensure_cluster(Settings.from_env(), progress=_say)
    return replace(base, topics=base.topics.with_prefix(f"bench-replay-{events}-p{partitions}-"), partitions=partitions)


def broker_version() -> str:
    if Settings.from_env().bootstrap is not None:
        return "unknown (KAFKA_BOOTSTRAP_SERVERS)"
    info = LocalBroker().status()
    return f"Kafka {info.kafka_version}" if info is not None else "unknown"


def _topic_events(settings: Settings, topic: str) -> int | None:
    """Records in the topic (None if it does not exist); no transactions write it, so no markers."""
    if topic not in describe_topics(settings, [topic]):
        return None
    return sum(end_offsets(settings, topic).values())


def delete_topic(settings: Settings, topic: str, timeout_s: float = 60.0) -> None:
    """Delete the topic and wait until the cluster no longer lists it (so it can be created again)."""
    admin = AdminClient(settings.client_config())
    for future in admin.delete_topics([topic], operation_timeout=timeout_s, request_timeout=timeout_s).values():
        try:
            future.result()
        except KafkaException as exc:
            if not exc.args or getattr(exc.args[0], "name", lambda: "")() != "UNKNOWN_TOPIC_OR_PART":
                raise
    deadline = time.monotonic() + timeout_s
    while topic in admin.list_topics(timeout=timeout_s).topics:
        if time.monotonic() > deadline:
            raise BenchError(f"{topic} was still listed {timeout_s:.0f}s after its deletion")
        time.sleep(0.2)


def prepare_topic(settings: Settings, events: int) -> TopicInfo:
    """The events topic holding at least ``events`` events: reused if a kept one does, else (re)filled."""
    topic = settings.topics.events
    held = _topic_events(settings, topic)
    if held is not None and held >= events:
        _say(f"reusing {topic}: it holds {held:,} events from a previous --keep-topic run")
        return TopicInfo(topic, held, reused=True)
    if held is not None:
        _say(f"{topic} holds only {held:,} events (an interrupted run?): deleting and refilling it")
        delete_topic(settings, topic)
    create_topics(settings, [spec for spec in topic_layout(settings) if spec.name == topic])
    return produce(settings, events)


def simulation_config(events: int, partitions: int) -> SimulationConfig:
    """A run long enough for ``events`` (a day has about one event per agent; generation stops early).

    Small runs get fewer agents, so that the day-0 setup (arena by arena) does not fill the topic
    before every arena, and so every partition, has events."""
    arenas = ARENAS_PER_PARTITION * partitions
    agents = max(1, min(AGENTS_PER_ARENA, events // (arenas * 4)))
    days = 2 * math.ceil(events / (arenas * agents)) + 5
    return SimulationConfig(
        arenas=arenas,
        agents_per_arena=agents,
        days=days,
        seed=SEED,
        partitions=partitions,
        arena_prefix="bench",
    )


def produce(settings: Settings, target: int) -> TopicInfo:
    """Simulate, encode and produce events until at least ``target`` are queued, then flush."""
    topic = settings.topics.events
    config = simulation_config(target, settings.partitions)
    run = simulate(config, partitioner=partition_for)
    producer = Producer(
        settings.client_config(
            {
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "lz4",
                "partitioner": PRODUCER_PARTITIONER,  # the explicit partition below wins; same mapping
                "linger.ms": 100,
                "batch.size": 1_000_000,
                "batch.num.messages": 100_000,
                "queue.buffering.max.messages": 1_000_000,
                "queue.buffering.max.kbytes": 1_048_576,
                "delivery.timeout.ms": 300_000,
                "delivery.report.only.error": True,
            }
        )
    )
    failures: list[str] = []

    def on_delivery(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    owners: dict[str, int] = {}
    queued = 0
    next_report = PROGRESS_EVERY
    began = time.monotonic()
    _say(f"filling {topic}: {config.arenas} arenas x {config.agents_per_arena} agents, up to {target:,} events")
    for step in run:
        for event in step.events:
            arena = event.arena_id
            partition = owners.get(arena)
            if partition is None:
                partition = owners[arena] = partition_for(arena, settings.partitions)
            value = encode_event(event)
            while True:
                try:
                    producer.produce(
                        topic, value=value, key=arena.encode(), partition=partition, on_delivery=on_delivery
                    )
                    break
                except BufferError:
                    producer.poll(0.1)  # the local queue is full: serve it, never drop
            queued += 1
        producer.poll(0)
        if queued >= next_report:
            rate = queued / (time.monotonic() - began)
            _say(f"  {queued:>11,} / {target:,} events queued ({rate:,.0f}/s, ~{(target - queued) / rate:.0f}s left)")
            next_report += PROGRESS_EVERY
        if queued >= target:
            break
    _say(f"  flushing {queued:,} events")
    remaining = producer.flush(300)
    if remaining or failures:
        raise BenchError(f"{remaining} undelivered, {len(failures)} failed (first: {failures[:1]})")
    if queued < target:
        raise BenchError(f"the simulation ended after {queued:,} events, short of {target:,}")
    seconds = time.monotonic() - began
    held = sum(end_offsets(settings, topic).values())
    if held != queued:
        raise BenchError(f"{topic} holds {held:,} records after producing {queued:,}")
    _say(f"  produced {queued:,} events in {seconds:.1f}s ({queued / seconds:,.0f}/s)")
    return TopicInfo(topic, queued, False, seconds, len(owners), dict(run.stats.events))


# --- the figures ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    events: int
    value_bytes: int
    seconds: float


def _bare_consumer(settings: Settings) -> Consumer:
    """The settings of streams.kafka.topic_reader's consumer, so the figures differ only per message."""
    return Consumer(
        settings.client_config(
            {
                "group.id": f"bench-replay-{uuid.uuid4().hex[:8]}",  # required by librdkafka; never committed
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "isolation.level": "read_committed",
                "enable.partition.eof": True,
                "fetch.max.bytes": 32 * 1024 * 1024,
                "max.partition.fetch.bytes": 8 * 1024 * 1024,
                "queued.max.messages.kbytes": 256 * 1024,
            }
        )
    )


def measure_baseline(settings: Settings) -> Run:
    """The floor: one consumer that looks up each partition's watermarks, assigns the low one and
    consumes with a short timeout (so the last, partial batch is not waited for)."""
    topic = settings.topics.events
    began = time.perf_counter()
    consumer = _bare_consumer(settings)
    try:
        entry = consumer.list_topics(topic, timeout=15).topics.get(topic)
        if entry is None or entry.error is not None:
            raise BenchError(f"{topic} is not readable")
        bounds = {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15, cached=False)
            for p in sorted(entry.partitions)
        }
        ends = {p: high for p, (_low, high) in bounds.items()}
        pending = {p for p, (low, high) in bounds.items() if high > low}
        consumer.assign([TopicPartition(topic, p, bounds[p][0]) for p in sorted(pending)])
        count = size = 0
        deadline = time.monotonic() + TIMEOUT_S
        while pending:
            if time.monotonic() > deadline:
                raise BenchError(f"the bare consumer did not reach the end of {topic}; left {pending}")
            for message in consumer.consume(BATCH, 0.1):
                error = message.error()
                partition = message.partition() or 0
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(partition)
                        continue
                    raise BenchError(f"reading {topic}[{partition}]: {error.str()}")
                value = message.value()
                size += len(value) if value is not None else 0
                count += 1
                if (message.offset() or 0) + 1 >= ends[partition]:
                    pending.discard(partition)
    finally:
        consumer.close()
    return Run(count, size, time.perf_counter() - began)


def _snapshot(settings: Settings) -> Iterator[TopicRecord]:
    """The topic through the project's reader, called the way replay() calls it (explicit start and stop)."""
    topic = settings.topics.events
    ends = end_offsets(settings, topic)
    return read_snapshot(settings, topic, start=dict.fromkeys(ends, 0), stop=ends, timeout_s=TIMEOUT_S)


def measure_reader(settings: Settings) -> Run:
    began = time.perf_counter()
    count = size = 0
    for record in _snapshot(settings):
        size += len(record.value) if record.value is not None else 0
        count += 1
    return Run(count, size, time.perf_counter() - began)


def measure_decode(settings: Settings) -> Run:
    began = time.perf_counter()
    count = size = 0
    for record in _snapshot(settings):
        if record.value is None:
            raise BenchError(f"partition {record.partition} offset {record.offset} has no value")
        decode_event_with_digest(record.value)
        size += len(record.value)
        count += 1
    return Run(count, size, time.perf_counter() - began)


def measure_replay(settings: Settings, expected: int, processes: int | None = None) -> Run:
    """One replay, which must pass, read every record and fold every event (keep_events=False leaves
    ``audit.events`` empty, so the count comes from the reader's progress and the states' seqs)."""
    read = 0

    def progress(count: int) -> None:
        nonlocal read
        read = count

    began = time.perf_counter()
    result = replay(settings, keep_events=False, progress=progress, processes=processes)
    seconds = time.perf_counter() - began
    audit = result.audit
    folded = sum(state.last_seq for state in audit.states.values())
    if not audit.passed:
        shown = [a.message for a in audit.alerts[:3]] + audit.problems[:3]
        raise BenchError(f"replay did not pass: {audit.verdict()}; {shown}")
    if read != expected or folded != expected:
        raise BenchError(f"replay read {read:,} records and folded {folded:,} events; the topic holds {expected:,}")
    return Run(read, 0, seconds)


def measure(settings: Settings, expected: int, repeat: int) -> dict[str, list[Run]]:
    """``repeat`` rounds of every figure, alternating the order so no figure always runs first."""
    runners: dict[str, Callable[[], Run]] = {
        "baseline": lambda: measure_baseline(settings),
        "reader": lambda: measure_reader(settings),
        "decode": lambda: measure_decode(settings),
        "replay1": lambda: measure_replay(settings, expected, processes=1),
        "replay": lambda: measure_replay(settings, expected, processes=os.cpu_count() or 1),
    }
    runs: dict[str, list[Run]] = {name: [] for name in runners}
    for round_no in range(repeat):
        order = list(runners) if round_no % 2 == 0 else list(reversed(runners))
        for name in order:
            gc.collect()  # garbage of the previous figure is not charged to this one
            result = runners[name]()
            if result.events != expected:
                raise BenchError(f"{name} read {result.events:,} events; the topic holds {expected:,}")
            runs[name].append(result)
            rate = result.events / result.seconds
            _say(f"  round {round_no + 1}/{repeat} {name:<9}{result.seconds:>9.2f}s {rate:>12,.0f} events/s")
    return runs


def profile_replay(settings: Settings, path: Path) -> None:
    """One more replay under cProfile (slower than untraced); the stats go to ``path``, the top to stderr."""
    profiler = cProfile.Profile()
    profiler.runcall(replay, settings, keep_events=False, processes=1)  # in processes, only the parent's wait shows
    path.parent.mkdir(parents=True, exist_ok=True)
    profiler.dump_stats(path)
    _say(f"profile of one replay written to {path} (python -m pstats {path}); top by own time:")
    pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(20)


# --- the report ----------------------------------------------------------------------------------


def build_report(
    settings: Settings, topic: TopicInfo, requested: int, repeat: int, runs: dict[str, list[Run]]
) -> dict[str, Any]:
    config = simulation_config(requested, settings.partitions)
    baseline = min(r.seconds for r in runs["baseline"])
    sizes = runs["baseline"][0]
    figures: dict[str, Any] = {}
    for name, label in FIGURES.items():
        best = min(r.seconds for r in runs[name])
        figures[name] = {
            "label": label,
            "events": topic.events,
            "seconds": best,
            "runs_seconds": [r.seconds for r in runs[name]],
            "events_per_s": topic.events / best,
            "us_per_event": best / topic.events * 1e6,
            "ratio_to_baseline": best / baseline,
        }
    return {
        "settings": {
            "events_requested": requested,
            "events": topic.events,
            "partitions": settings.partitions,
            "arenas": config.arenas,
            "agents_per_arena": config.agents_per_arena,
            "seed": SEED,
            "repeat": repeat,
            "avg_value_bytes": sizes.value_bytes / sizes.events,
            "broker": broker_version(),
            "bootstrap": settings.bootstrap,
            "python": sys.version.split()[0],
        },
        "topic": {
            "name": topic.name,
            "reused": topic.reused,
            "produce_seconds": topic.produce_seconds,
            "arenas": topic.arenas,
            "mix": topic.mix,
        },
        "figures": figures,
        "replay_ratio_to_baseline": figures["replay"]["ratio_to_baseline"],
    }


def render(report: dict[str, Any]) -> str:
    s, t = report["settings"], report["topic"]
    source = (
        "reused from a previous --keep-topic run"
        if t["reused"]
        else f"simulated, encoded and produced in {t['produce_seconds']:.1f}s "
        f"({s['events'] / t['produce_seconds']:,.0f} events/s) into {t['arenas']} arenas"
    )
    lines = [
        f"replay benchmark: events={s['events']:,} (requested {s['events_requested']:,}) "
        f"partitions={s['partitions']} arenas={s['arenas']} x {s['agents_per_arena']} agents "
        f"avg value {s['avg_value_bytes']:.0f} B  best of {s['repeat']}",
        f"broker {s['broker']} at {s['bootstrap']}  python {s['python']}",
        f"topic {t['name']}: {source}",
    ]
    if t["mix"]:
        lines.append("mix: " + ", ".join(f"{k} {v:,}" for k, v in Counter(t["mix"]).most_common()))
    lines += [
        "",
        f"{'figure':<44}{'events':>11}{'seconds':>10}{'events/s':>12}{'us/event':>10}{'ratio':>9}  runs (s)",
    ]
    for f in report["figures"].values():
        runs = " ".join(f"{x:.2f}" for x in f["runs_seconds"])
        lines.append(
            f"{f['label']:<44}{f['events']:>11,}{f['seconds']:>10.2f}{f['events_per_s']:>12,.0f}"
            f"{f['us_per_event']:>10.2f}{f['ratio_to_baseline']:>8.2f}x  {runs}"
        )
    lines.append("")
    ratio = report["replay_ratio_to_baseline"]
    lines.append(f"replay: PASS, every event read and folded; {ratio:.1f}x the time of the bare consumer")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.replay_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="at least this many events in the topic")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2, help="rounds of every figure; the best is reported")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--keep-topic", action="store_true", help="keep the topic, for the next run to reuse")
    parser.add_argument("--profile", type=Path, help="also profile one replay with cProfile into this file")
    args = parser.parse_args(argv)
    if args.events < 1 or args.partitions < 1 or args.repeat < 1:
        parser.error("--events, --partitions and --repeat must be at least 1")
    settings = bench_settings(args.events, args.partitions)
    try:
        topic = prepare_topic(settings, args.events)
        runs = measure(settings, topic.events, args.repeat)
        report = build_report(settings, topic, args.events, args.repeat, runs)
        print(render(report))
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        if args.profile:
            profile_replay(settings, args.profile)
    finally:
        if not args.keep_topic:
            delete_topic(settings, settings.topics.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
