"""`install(app, ...)`: the one entry point of the exactly-once layer.

Faust builds the transport, the consumer, the producer and the table recovery itself, from the broker
URL scheme (`arena-kafka://`, registered as a Faust transport entry point) and the app's settings; they
all reach what this layer keeps per app — the processing gate, where to read committed changelogs
from — through `exactly_once(app)`. Installing checks the Faust version and the private members the
layer relies on (streams/eos/faust_private.py) before the worker starts, and fails with a clear error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import AppT

from streams.eos import faust_private
from streams.eos.fatal_exit import FatalExit
from streams.eos.gate import ProcessingGate
from streams.eos.offset_sequencer import CommittedOffset, Probe

SCHEME = "arena-kafka"
SUPPORTED_FAUST = ((0, 15), (0, 16))  # [from, to): the versions whose internals faust_private describes

# (changelog topic, partition)s -> each one's committed rows: the last value per key.
CommittedRows = Callable[[list[tuple[str, int]]], Awaitable[dict[tuple[str, int], dict[Any, Any]]]]
# A table key -> the partition its row lives in.
PartitionOf = Callable[[Any], int]

_ATTRIBUTE = "_arena_exactly_once"


@dataclass(frozen=True, slots=True)
class ChangelogSource:
    """Where recovery reads the committed rows of the partitions it restarts (streams/eos/recovery.py)."""

    read: CommittedRows
    partition_of: PartitionOf
    source_topics: frozenset[str]  # the topics whose partitions the tables are co-partitioned with


@dataclass(frozen=True, slots=True)
class ExactlyOnce:
    gate: ProcessingGate
    changelogs: ChangelogSource
    trace: bool = False  # log every unit and commit (ARENA_EOS_TRACE=1)


class NotInstalled(RuntimeError):
    """A worker started without `install(app, ...)`."""


def install(
    app: AppT,
    *,
    read_changelogs: CommittedRows,
    partition_of: PartitionOf,
    source_topics: frozenset[str],
    probe: Probe | None = None,
    committed: CommittedOffset | None = None,
    exit_policy: FatalExit | None = None,
    trace: bool = False,
) -> ExactlyOnce:
    """Attach the exactly-once layer to `app`; call before the worker starts. Apps that share a process
    share its `exit_policy`: whichever fails, the process exits once."""
    check_faust()
    gate = ProcessingGate(app)
    if probe is not None and committed is not None:
        gate.use_broker(probe, committed)
    if exit_policy is not None:
        gate.exit = exit_policy
    gate.trace = trace
    installed = ExactlyOnce(gate, ChangelogSource(read_changelogs, partition_of, source_topics), trace)
    setattr(app, _ATTRIBUTE, installed)
    return installed


def exactly_once(app: AppT) -> ExactlyOnce:
    installed: ExactlyOnce | None = getattr(app, _ATTRIBUTE, None)
    if installed is None:
        raise NotInstalled(f"the {SCHEME}:// transport needs streams.eos.install(app, ...) before the worker starts")
    return installed


def check_faust() -> None:
    version = tuple(int(part) for part in faust.__version__.split(".")[:2])
    low, high = SUPPORTED_FAUST
    if not low <= version < high:
        raise faust_private.IncompatibleFaust(
            f"the exactly-once layer supports faust-streaming {low[0]}.{low[1]}.x only, not {faust.__version__}"
        )
    faust_private.check()


def in_thread(read: Callable[[list[tuple[str, int]]], dict[tuple[str, int], dict[Any, Any]]]) -> CommittedRows:
    """A blocking changelog read, run off the event loop (heartbeats and commits go on meanwhile)."""

    async def run(partitions: list[tuple[str, int]]) -> dict[tuple[str, int], dict[Any, Any]]:
        return await asyncio.to_thread(read, partitions)

    return run
