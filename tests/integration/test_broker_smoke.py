"""The broker and the clients behave as the pipeline relies on; each test fails if Kafka misbehaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from streams.broker.launcher import project_root
from tests.support.kafka_cluster import KafkaCluster
from tests.support.kafka_io import Record, end_offsets, read_topic

pytestmark = pytest.mark.integration


def _create(kafka: KafkaCluster, *names: str, partitions: int = 3) -> None:
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    for future in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).values():
        future.result(30)


def _delivered(producer: Producer) -> None:
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} messages were not delivered"


def test_idempotent_producer_keeps_per_key_order_within_a_partition(kafka: KafkaCluster, prefix: str) -> None:
    topic = f"{prefix}ordered"
    _create(kafka, topic)
    producer = Producer(
        {"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5}
    )
    errors: list[str] = []

    def report(err: object, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    keys = [f"arena-{i}".encode() for i in range(6)]
    for n in range(300):
        for key in keys:
            producer.produce(topic, key=key, value=str(n).encode(), on_delivery=report)
        producer.poll(0)
    _delivered(producer)
    assert errors == []

    records = read_topic(kafka.settings(prefix), topic, expect_at_least=300 * len(keys))
    by_key: dict[bytes, list[int]] = defaultdict(list)
    partition_of: dict[bytes, set[int]] = defaultdict(set)
    for record in records:
        assert record.key is not None and record.value is not None
        by_key[record.key].append(int(record.value))
        partition_of[record.key].add(record.partition)
    assert set(by_key) == set(keys)
    for key in keys:
        assert by_key[key] == list(range(300)), f"{key!r} arrived out of order or with gaps/duplicates"
        assert len(partition_of[key]) == 1, f"{key!r} was spread over partitions {partition_of[key]}"


def test_read_committed_sees_committed_transactions_and_never_aborted_ones(kafka: KafkaCluster, prefix: str) -> None:
    topic = f"{prefix}txn"
    _create(kafka, topic, partitions=1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "transactional.id": f"{prefix}tx"})
    producer.init_transactions(30)
    for label, commit in (("first", True), ("aborted", False), ("second", True)):
        producer.begin_transaction()
        for n in range(10):
            producer.produce(topic, key=b"k", value=f"{label}-{n}".encode())
        if commit:
            producer.commit_transaction(30)
        else:
            producer.flush(30)  # the aborted batch really reaches the log before the abort marker
            producer.abort_transaction(30)

    settings = kafka.settings(prefix)
    committed = [r.value for r in read_topic(settings, topic, expect_at_least=20)]
    everything = [r.value for r in read_topic(settings, topic, isolation="read_uncommitted", expect_at_least=30)]
    expected = [f"{label}-{n}".encode() for label in ("first", "second") for n in range(10)]
    assert committed == expected
    assert len(everything) == 30, "the aborted batch should be in the log, hidden only from read_committed"
    assert sum(1 for v in everything if v is not None and v.startswith(b"aborted")) == 10


def _run_smoke_worker(
    kafka: KafkaCluster, prefix: str, tmp_path: Path, *, scheme: str
) -> tuple[list[tuple[bytes, bytes]], list[Record], str, str]:
    source, sink = f"{prefix}smoke-in", f"{prefix}smoke-out"
    _create(kafka, source, sink, partitions=2)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "enable.idempotence": True})
    sent = [(f"k{n % 5}".encode(), f"v{n}".encode()) for n in range(60)]
    for key, value in sent:
        producer.produce(source, key=key, value=value)
    _delivered(producer)

    env = {
        **os.environ,
        "SMOKE_APP_ID": f"{prefix}smoke",
        "SMOKE_BOOTSTRAP": kafka.bootstrap,
        "SMOKE_SCHEME": scheme,
        "SMOKE_DATADIR": str(tmp_path / "faust"),
        "SMOKE_IN": source,
        "SMOKE_OUT": sink,
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "tests.integration.faust_smoke_app", "worker", "-l", "info"],
            cwd=project_root(),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            records = read_topic(kafka.settings(prefix), sink, expect_at_least=len(sent), timeout_s=120, settle_s=3)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    return sent, records, sink, log_path.read_text(errors="replace")


def test_faust_agent_processes_each_message_exactly_once_in_transactions(
    kafka: KafkaCluster, prefix: str, tmp_path: Path
) -> None:
    sent, records, sink, worker_log = _run_smoke_worker(kafka, prefix, tmp_path, scheme="arena-kafka")
    assert len(records) == len(sent), f"expected {len(sent)} outputs, got {len(records)}\n{worker_log[-3000:]}"
    per_key: dict[bytes, list[bytes]] = defaultdict(list)
    for record in records:
        assert record.key is not None and record.value is not None
        per_key[record.key].append(record.value)
    for key in {k for k, _ in sent}:
        inputs = [v.upper() for k, v in sent if k == key]
        assert per_key[key] == [b"%s|%d" % (v, i + 1) for i, v in enumerate(inputs)]
    # Transaction markers take offsets: more offsets than records proves the outputs were transactional.
    assert sum(end_offsets(kafka.settings(prefix), sink).values()) > len(records)


def test_stock_faust_transport_sends_outside_transactions(kafka: KafkaCluster, prefix: str, tmp_path: Path) -> None:
    """Why streams/eos/transport.py exists (faust-streaming#177). If this starts failing, upstream fixed it."""
    sent, records, sink, worker_log = _run_smoke_worker(kafka, prefix, tmp_path, scheme="kafka")
    assert len(records) == len(sent), worker_log[-3000:]
    assert sum(end_offsets(kafka.settings(prefix), sink).values()) == len(records), "no transaction markers"
