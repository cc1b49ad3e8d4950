"""What the exactly-once layer tells an observer: a unit done, a transaction committed, partitions recovered.

The layer keeps no metrics itself (it must not depend on a metrics library, and its hot path must stay
cheap); the worker plugs in an observer that turns these calls into Prometheus metrics
(streams/worker/web/metrics.py). The default observer does nothing, so a worker without its web
endpoints pays one no-op call per unit.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from faust.types import Message


class EosObserver:
    """Does nothing; the worker's metrics subclass it. Every call comes from the event loop."""

    def unit_done(self, messages: Sequence[Message], seconds: float) -> None:
        """A unit processed these messages (one topic, offset order per partition), in `seconds` of its
        processor's work; their commit comes later."""

    def committed(self, seconds: float) -> None:
        """The open transactions were committed, in `seconds` (drain and commit)."""

    def recovered(self, partitions: Collection[int], seconds: float, rows: int) -> None:
        """These partition numbers' tables were loaded from their committed changelog, in `seconds`."""


NO_OBSERVER = EosObserver()
