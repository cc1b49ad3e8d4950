"""Every private member of Faust and aiokafka the exactly-once layer relies on, in one place.

faust-streaming 0.15 has no public way to do what this layer must do (end a transaction on purpose,
read a memory table's rows per partition, know which topic group a topic is in), so the layer reaches
into private members. They are read through the functions below and nowhere else; the private methods
the layer overrides are listed in `OVERRIDDEN`. `check()` runs when the layer is installed
(streams/eos/install.py): a Faust or aiokafka release that renamed any of them stops the worker at
start, with the member's name, instead of failing half-way through a rebalance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, MutableMapping
from typing import Any

import aiokafka
from faust.stores.memory import Store as MemoryStore
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.tables.table import Table
from faust.transport.consumer import Consumer
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.transport.producer import ProducerBuffer
from faust.types import TP, AppT, Message

# (class, private method) pairs that the layer overrides.
OVERRIDDEN: tuple[tuple[type[Any], str], ...] = (
    (ProducerBuffer, "_send_pending"),  # transport.DrainableBuffer: counts sends in flight
    (Consumer, "_new_offset"),  # transport.GatedConsumer: offsets from the sequencer
    (aiokafka_driver.Consumer, "_new_consumer_thread"),  # transport.GatedConsumer
    (aiokafka_driver.AIOKafkaConsumerThread, "_highwaters"),  # transport.StableOffsetsConsumerThread
    (Recovery, "_build_offsets"),  # recovery.VerifiedRecovery: skips Faust's own changelog read
    (Table, "_verify_source_topic_partitions"),  # table.CoPartitionedTable
)

# (class, private attribute) pairs read or written through the functions below (set in __init__, so
# checked on instances where they are created).
READ: tuple[str, ...] = (
    "faust Producer._transaction_producers, _trn_locks",
    "faust PartitionAssignor._topic_groups",
    "faust Consumer._acked, _acked_index, _unacked_messages, _committed_offset",
    "faust AIOKafkaConsumerThread._ensure_consumer",
    "faust TableManager._changelogs, _recovery",
    "faust memory Store.data, _key_partition",
    "aiokafka AIOKafkaProducer._txn_manager",
)


class IncompatibleFaust(RuntimeError):
    """The installed Faust or aiokafka lacks a member this layer relies on."""


def check() -> None:
    missing = [f"{cls.__module__}.{cls.__name__}.{name}" for cls, name in OVERRIDDEN if not hasattr(cls, name)]
    for cls, name in (
        (aiokafka_driver.Producer, "_transaction_producers"),
        (aiokafka_driver.Producer, "_trn_locks"),
        (aiokafka_driver.AIOKafkaConsumerThread, "_ensure_consumer"),
        (TableManager, "_changelogs"),
        (aiokafka.AIOKafkaProducer, "begin_transaction"),
        (MemoryStore, "apply_changelog_batch"),
    ):
        if not hasattr(cls, name) and name not in getattr(cls, "__annotations__", {}):
            missing.append(f"{cls.__module__}.{cls.__name__}.{name}")
    if missing:
        raise IncompatibleFaust(f"the exactly-once layer needs members this Faust/aiokafka lacks: {', '.join(missing)}")


# ---- producers ------------------------------------------------------------------------------------


def transaction_producers(producer: Any) -> dict[str, Any]:  # noqa: ANN401 - Faust's aiokafka Producer
    """Faust's transactional aiokafka producers by transactional id (a class-level dict in 0.15)."""
    found: dict[str, Any] = producer._transaction_producers
    return found


def transaction_locks(producer: Any) -> dict[str, asyncio.Lock]:  # noqa: ANN401 - Faust's aiokafka Producer
    found: dict[str, asyncio.Lock] = producer._trn_locks
    return found


def in_transaction(producer: Any) -> bool:  # noqa: ANN401 - aiokafka ships no types
    """Whether an aiokafka producer has a transaction open (begun and not yet committed or aborted)."""
    txn = producer._txn_manager
    return txn is not None and bool(txn.is_in_transaction())


# ---- the app and its consumer ---------------------------------------------------------------------


def topic_groups(app: AppT) -> Mapping[str, int]:
    """The assignor's co-partitioned topic groups (the middle part of a transactional id)."""
    groups: Mapping[str, int] = app.assignor._topic_groups  # type: ignore[attr-defined]
    return groups


def forget_acks(consumer: Any, tp: TP) -> None:  # noqa: ANN401 - Faust's Consumer
    """Faust's own acked-offsets bookkeeping, which the sequencer replaces."""
    consumer._acked[tp].clear()
    consumer._acked_index[tp].clear()


def stop_waiting_for(consumer: Any, message: Message) -> None:  # noqa: ANN401 - Faust's Consumer
    """A message Faust must not wait for before a rebalance (it will be delivered again)."""
    consumer._unacked_messages.discard(message)


def committed_offsets(consumer: Any) -> dict[TP, int | None]:  # noqa: ANN401 - Faust's Consumer
    return dict(consumer._committed_offset)


def aiokafka_consumer(thread: Any) -> Any:  # noqa: ANN401 - Faust's consumer thread and aiokafka's consumer
    return thread._ensure_consumer()


# ---- tables ---------------------------------------------------------------------------------------


def changelogs(tables: Any) -> Mapping[str, Any]:  # noqa: ANN401 - Faust's TableManager
    """Each table by its changelog topic."""
    found: Mapping[str, Any] = tables._changelogs
    return found


def memory_rows(table: Any) -> tuple[MutableMapping[Any, Any], MutableMapping[Any, int]]:  # noqa: ANN401
    """A memory-store table's rows, and the partition each row was read from (Faust keeps it for rows
    loaded from a changelog)."""
    store: Any = getattr(table, "data", None)
    data: Any = getattr(store, "data", None)
    key_partition: Any = getattr(store, "_key_partition", None)
    if not isinstance(data, MutableMapping) or not isinstance(key_partition, MutableMapping):
        raise TypeError(f"the exactly-once layer needs Faust's memory store, not {type(store).__name__}")
    return data, key_partition
