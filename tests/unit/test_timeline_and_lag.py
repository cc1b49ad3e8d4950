"""Rates over the sampler's periods, added up across workers; and lag that ignores transaction markers."""

from __future__ import annotations

from streams.kafka.lag import GroupLag, GroupMember, PartitionLag
from streams.worker.web.sampler import Sample
from streams.worker.web.timeline import added_up, points


def test_rates_are_taken_between_consecutive_samples_and_a_gap_starts_again() -> None:
    samples = [
        Sample(at=100.0, commands=0, events_checked=0, lag=50),
        Sample(at=105.0, commands=100, events_checked=50, lag=10),
        Sample(at=110.0, commands=150, events_checked=150, lag=0),
        Sample(at=200.0, commands=160, events_checked=150, lag=0),  # the worker was away: no rate over a gap
        Sample(at=205.0, commands=5, events_checked=5, lag=0),  # a restart: counts began again
        Sample(at=210.0, commands=15, events_checked=5, lag=2),
    ]
    found = points(samples, 5.0)
    assert [(p.at_ms, p.span_ms, p.commands, p.events_checked, p.lag) for p in found] == [
        (105_000, 5_000, 100, 50, 10),
        (110_000, 5_000, 50, 100, 0),
        (210_000, 5_000, 10, 0, 2),
    ]


def test_workers_points_are_added_up_per_period() -> None:
    one = points([Sample(0.0, 0, 0, 0), Sample(5.0, 50, 0, 4)], 5.0)
    two = points([Sample(0.0, 0, 0, 0), Sample(5.0, 25, 5, 1), Sample(10.0, 50, 10, 0)], 5.0)
    total = added_up([one, two])
    assert [(p.at_ms, p.commands, p.lag) for p in total] == [(5_000, 75, 5), (10_000, 25, 0)]


def test_offsets_left_only_by_transaction_markers_are_no_lag() -> None:
    markers = PartitionLag("events", 0, start=0, end=43, committed=42, records_waiting=False)
    waiting = PartitionLag("commands", 1, start=0, end=40, committed=30, records_waiting=True)
    never = PartitionLag("commands", 2, start=5, end=25, committed=None, records_waiting=True)
    assert (markers.lag, waiting.lag, never.lag) == (0, 10, 20)
    owner = GroupMember("arena-worker-h-1", "/127.0.0.1", (("commands", 1),))
    group = GroupLag("g", "Stable", (markers, waiting, never), (owner,))
    assert group.total == 30 and group.of("commands").per_partition == {1: 10, 2: 20}
    assert group.owner("commands", 1) is owner and group.owner("events", 0) is None
