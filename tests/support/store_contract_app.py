"""A Faust app that runs the store contract's cases (tests/support/store_cases.py) over real Faust tables.

Started as a real worker (`python -m faust -A tests.support.store_contract_app worker`): each message on
STORE_IN names a case, the agent runs it inside stream processing (Faust tables accept writes only
there, and send each write and deletion to their changelog), and sends the observations as JSON to
STORE_OUT. One partition, Faust's stock transport: the contract is about what tables hold, not about
transactions.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import faust
import orjson

from streams.store.table_names import ALL_TABLES
from tests.support.store_cases import CASES

app = faust.App(
    os.environ["STORE_APP_ID"],
    broker=f"kafka://{os.environ['STORE_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ["STORE_DATADIR"],
    web_enabled=False,
    topic_partitions=1,
    topic_replication_factor=1,
    consumer_auto_offset_reset="earliest",
    key_serializer="json",
    value_serializer="json",
)
cases_in = app.topic(os.environ["STORE_IN"], key_serializer="raw", value_serializer="raw")
observations_out = app.topic(os.environ["STORE_OUT"], key_serializer="raw", value_serializer="raw")
tables = {name: app.Table(name, default=None, partitions=1) for name in ALL_TABLES}


@app.agent(cases_in)
async def run_cases(stream: Any) -> AsyncIterator[None]:
    async for event in stream.events():
        name = event.value.decode()
        observed = CASES[name](tables.__getitem__)
        await observations_out.send(key=event.value, value=orjson.dumps(observed))
        yield None
