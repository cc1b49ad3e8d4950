"""Loading changelog partitions for recovery (streams/topic_reader.read_partitions) on the real broker.

A gained partition's last transaction may still be open when the new owner reads it. A read_committed
read would then end early, silently, at the last stable offset; the load must wait for the
transaction to end and then see its rows.
"""

from __future__ import annotations

import threading
import time
import uuid

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from streams.kafka.changelog_reader import committed_rows_by_partition
from tests.support.kafka_cluster import KafkaCluster

pytestmark = pytest.mark.integration


def _topic(kafka: KafkaCluster) -> str:
    topic = f"t{uuid.uuid4().hex[:10]}-app-arena-headers-changelog"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])[topic].result(30)
    return topic


def _transactional_producer(kafka: KafkaCluster, topic: str) -> Producer:
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "transactional.id": f"{topic}-0"})
    producer.init_transactions(30)
    return producer


def _row(producer: Producer, topic: str, key: str, value: object, partition: int = 0) -> None:
    producer.produce(topic, key=orjson.dumps(key), value=orjson.dumps(value), partition=partition)


def test_the_load_waits_for_an_open_transaction_and_then_sees_its_rows(kafka: KafkaCluster) -> None:
    settings = kafka.settings("unused-")
    topic = _topic(kafka)
    producer = _transactional_producer(kafka, topic)
    producer.begin_transaction()
    _row(producer, topic, "arena-a", {"last_seq": 1})
    _row(producer, topic, "arena-b", {"last_seq": 9}, partition=1)
    producer.commit_transaction(30)
    producer.begin_transaction()
    _row(producer, topic, "arena-a", {"last_seq": 2})
    _row(producer, topic, "arena-c", {"last_seq": 1})
    producer.flush(30)  # in the log, not yet committed

    loaded: dict[tuple[str, int], dict[str, object]] = {}
    reader = threading.Thread(target=lambda: loaded.update(committed_rows_by_partition(settings, [(topic, 0)])))
    reader.start()
    time.sleep(3)
    assert reader.is_alive(), f"the load ended while a transaction was open: {loaded}"
    producer.commit_transaction(30)
    reader.join(60)
    assert not reader.is_alive()
    assert loaded == {(topic, 0): {"arena-a": {"last_seq": 2}, "arena-c": {"last_seq": 1}}}


def test_an_aborted_transaction_leaves_no_rows_and_deletions_are_applied(kafka: KafkaCluster) -> None:
    settings = kafka.settings("unused-")
    topic = _topic(kafka)
    producer = _transactional_producer(kafka, topic)
    producer.begin_transaction()
    _row(producer, topic, "arena-a", {"last_seq": 1})
    _row(producer, topic, "arena-a\x1fw\x1f1", 3)
    producer.commit_transaction(30)
    producer.begin_transaction()
    _row(producer, topic, "arena-a", {"last_seq": 99})
    producer.abort_transaction(30)
    producer.begin_transaction()
    producer.produce(topic, key=orjson.dumps("arena-a\x1fw\x1f1"), value=None, partition=0)  # a deleted row
    producer.commit_transaction(30)

    loaded = committed_rows_by_partition(settings, [(topic, 0), (topic, 1)])
    assert loaded == {(topic, 0): {"arena-a": {"last_seq": 1}}, (topic, 1): {}}
