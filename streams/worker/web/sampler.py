"""Lag and throughput, sampled every few seconds on a thread of its own: never on the event loop.

Each period (5 s, aligned to the wall clock so that every worker's samples line up) the sampler reads
the processors' counts and measures the group's lag on the partitions this worker holds, with the same
code as `arena lag` (streams/kafka/lag.py: committed offsets against the last stable offsets, transaction
markers not counted). That is a handful of broker requests per period, none per message. The latest lag
feeds `arena_consumer_lag_records`; the last ten minutes of samples feed the dashboard's charts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass

from faust.types import TP

from streams.kafka.lag import LagProbe
from streams.kafka.settings import Settings

log = logging.getLogger(__name__)

PERIOD_S = 5.0
KEPT = 120  # ten minutes of samples


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # the end of the period, epoch seconds
    commands: int  # commands processed by this worker so far
    events_checked: int  # events checked by its ledger processor so far
    lag: int  # the group's lag on this worker's partitions, both topics


@dataclass(frozen=True, slots=True)
class Counts:
    commands: int
    events_checked: int


class Sampler:
    def __init__(
        self,
        settings: Settings,
        group_id: str,
        *,
        assigned: Callable[[], Collection[TP]],
        counts: Callable[[], Counts],
        source_topics: frozenset[str],
        period_s: float = PERIOD_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._group_id = group_id
        self._assigned = assigned
        self._counts = counts
        self._sources = source_topics
        self.period_s = period_s
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=KEPT)
        self._lag: dict[tuple[str, int], int] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)
        self._failing: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def lag(self) -> dict[tuple[str, int], int]:
        """The latest lag of each partition this worker holds (empty until the first sample)."""
        return dict(self._lag)

    def samples(self) -> list[Sample]:
        return list(self._samples)

    def _run(self) -> None:
        with LagProbe(self._settings, self._group_id) as probe:
            while True:
                now = self._clock()
                boundary = (now // self.period_s + 1) * self.period_s
                if self._stopped.wait(boundary - now):
                    return
                self.sample(probe, at=boundary)

    def sample(self, probe: LagProbe, *, at: float) -> Sample:
        counts = self._counts()
        held = [(tp.topic, tp.partition) for tp in self._assigned() if tp.topic in self._sources]
        try:
            measured = probe.measure(sorted(self._sources), only=held, members=False) if held else None
        except Exception as exc:  # noqa: BLE001 - a broker that does not answer must not end the sampler
            if self._failing != type(exc).__name__:
                log.warning("lag sampler: could not measure the lag (%r); keeping the last figures", exc)
                self._failing = type(exc).__name__
        else:
            self._failing = None
            self._lag = {(p.topic, p.partition): p.lag for p in measured.partitions} if measured else {}
        sample = Sample(
            at=at, commands=counts.commands, events_checked=counts.events_checked, lag=sum(self._lag.values())
        )
        self._samples.append(sample)
        return sample
