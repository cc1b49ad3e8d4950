"""Lag and throughput, sampled every few seconds on a thread of its own: never on the event loop.

Each period (5 s, aligned to the wall clock so that every worker's samples line up) the sampler reads
the processors' counts and measures each role's group lag on the partitions this worker holds (the
command group on the command topic, the ledger group on the event topic), with the same code as
`arena lag` (streams/kafka/lag.py: committed offsets against the last stable offsets, transaction markers
not counted). That is a handful of broker requests per period, none per message. The latest lag
feeds `arena_consumer_lag_records`; the last ten minutes of samples feed the dashboard's charts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Sequence
from contextlib import ExitStack
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
    lag: int  # the groups' lag on this worker's partitions, both topics


@dataclass(frozen=True)
class LagWatch:
    """One role's consumer group and the partitions of its source topic this worker holds."""

    group_id: str
    topic: str
    assigned: Callable[[], Collection[TP]]


@dataclass(frozen=True, slots=True)
class Counts:
    commands: int
    events_checked: int


class Sampler:
    def __init__(
        self,
        settings: Settings,
        watches: Sequence[LagWatch],
        *,
        counts: Callable[[], Counts],
        period_s: float = PERIOD_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._watches = list(watches)
        self._counts = counts
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
        with ExitStack() as stack:
            probes = [stack.enter_context(LagProbe(self._settings, watch.group_id)) for watch in self._watches]
            while True:
                now = self._clock()
                boundary = (now // self.period_s + 1) * self.period_s
                if self._stopped.wait(boundary - now):
                    return
                self.sample(probes, at=boundary)

    def sample(self, probes: Sequence[LagProbe], *, at: float) -> Sample:
        counts = self._counts()
        lag: dict[tuple[str, int], int] = {}
        try:
            for watch, probe in zip(self._watches, probes, strict=True):
                held = [(tp.topic, tp.partition) for tp in watch.assigned() if tp.topic == watch.topic]
                if held:
                    measured = probe.measure([watch.topic], only=held, members=False)
                    lag.update({(p.topic, p.partition): p.lag for p in measured.partitions})
        except Exception as exc:  # noqa: BLE001 - a broker that does not answer must not end the sampler
            if self._failing != type(exc).__name__:
                log.warning("lag sampler: could not measure the lag (%r); keeping the last figures", exc)
                self._failing = type(exc).__name__
        else:
            self._failing = None
            self._lag = lag
        sample = Sample(
            at=at, commands=counts.commands, events_checked=counts.events_checked, lag=sum(self._lag.values())
        )
        self._samples.append(sample)
        return sample
