"""The store contract over real Faust tables: the same observations as over plain dicts, and the tables'
committed changelogs equal to the dicts the same cases leave behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from streams.broker.launcher import project_root
from streams.kafka.changelog_reader import read_table
from streams.store.table_names import ALL_TABLES
from tests.support.kafka_cluster import KafkaCluster
from tests.support.kafka_io import read_topic
from tests.support.store_cases import CASES

pytestmark = pytest.mark.integration


def test_the_store_cases_give_the_same_observations_over_faust_tables_as_over_dicts(
    kafka: KafkaCluster, prefix: str, tmp_path: Path
) -> None:
    settings = kafka.settings(prefix)
    app_id, cases_in, observations_out = f"{prefix}stores", f"{prefix}store-in", f"{prefix}store-out"
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap})
    for future in admin.create_topics([NewTopic(t, 1, 1) for t in (cases_in, observations_out)]).values():
        future.result()
    names = sorted(CASES)
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for name in names:
        producer.produce(cases_in, key=name.encode(), value=name.encode())
    producer.flush(30)

    env = {
        **os.environ,
        "STORE_APP_ID": app_id,
        "STORE_BOOTSTRAP": kafka.bootstrap,
        "STORE_DATADIR": str(tmp_path / "faust"),
        "STORE_IN": cases_in,
        "STORE_OUT": observations_out,
    }
    log = tmp_path / "store-worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "faust", "-A", "tests.support.store_contract_app", "worker", "-l", "info"],
            cwd=project_root(),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            records = read_topic(settings, observations_out, expect_at_least=len(names), timeout_s=120, settle_s=2)
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                worker.kill()
    over_faust = {r.key.decode(): orjson.loads(r.value) for r in records if r.key and r.value}

    shared: defaultdict[str, dict[str, Any]] = defaultdict(dict)
    over_dicts = {name: CASES[name](shared.__getitem__) for name in names}  # in the order Faust ran them
    assert over_faust == over_dicts, log.read_text(errors="replace")[-3000:]
    for table in ALL_TABLES:
        assert read_table(settings, app_id, table) == shared[table], f"{table}: the changelog differs from the dict"
