"""The gate's sequencer: every committed record processed once, in order, whatever the delivery does."""

from __future__ import annotations

import asyncio

from faust.types import TP
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.eos.offset_sequencer import Admission, OffsetSequencer, Verdict

TP0 = TP("arena.events", 0)


class Log:
    """A partition as a read_committed reader sees it: record offsets, with holes for markers and aborts."""

    def __init__(self, records: list[int], committed: int = 0) -> None:
        self.records = records
        self.committed_offset = committed  # the group's resume position (the low watermark if none)
        self.probes = 0

    async def probe(self, _tp: TP, start: int, end: int) -> int | None:
        self.probes += 1
        return next((o for o in self.records if start <= o <= end), None)

    async def committed(self, _tp: TP) -> int:
        return self.committed_offset


def admit(sequencer: OffsetSequencer, offset: int) -> Admission:
    return asyncio.run(sequencer.admit(TP0, offset))


def test_a_fresh_group_processes_from_the_first_delivery_in_order() -> None:
    log = Log([0, 1, 2])
    sequencer = OffsetSequencer(log.probe, log.committed)
    for offset in log.records:
        assert admit(sequencer, offset).verdict is Verdict.PROCESS
        sequencer.processed(TP0, offset)
    assert sequencer.next_offset(TP0) == 3
    assert log.probes == 0


def test_a_second_delivery_is_a_duplicate() -> None:
    log = Log([5, 6, 7], committed=5)
    sequencer = OffsetSequencer(log.probe, log.committed)
    assert admit(sequencer, 5).verdict is Verdict.PROCESS
    sequencer.processed(TP0, 5)
    assert admit(sequencer, 5).verdict is Verdict.DUPLICATE


def test_a_hole_of_markers_only_is_crossed_after_asking_the_broker() -> None:
    log = Log([3, 4, 7, 8], committed=3)  # 5 and 6: a commit marker and an aborted record
    sequencer = OffsetSequencer(log.probe, log.committed)
    for offset in (3, 4):
        assert admit(sequencer, offset).verdict is Verdict.PROCESS
        sequencer.processed(TP0, offset)
    assert admit(sequencer, 7).verdict is Verdict.PROCESS
    assert log.probes == 1


def test_a_committed_offset_on_a_marker_is_not_a_lost_record() -> None:
    log = Log([11, 12], committed=10)  # 10 is the marker of the last committed transaction
    sequencer = OffsetSequencer(log.probe, log.committed)
    assert admit(sequencer, 11).verdict is Verdict.PROCESS


def test_a_vanished_record_is_sought_back_and_everything_after_it_waits_for_it() -> None:
    log = Log([20, 21, 22, 23], committed=20)
    sequencer = OffsetSequencer(log.probe, log.committed)
    assert admit(sequencer, 20).verdict is Verdict.PROCESS
    sequencer.processed(TP0, 20)
    lost = admit(sequencer, 22)  # 21 was cleared from a queue on its way to the agent
    assert lost == Admission(Verdict.LOST, seek_to=21)
    assert admit(sequencer, 23) == Admission(Verdict.WAIT, seek_to=21)
    for offset in (21, 22, 23):
        assert admit(sequencer, offset).verdict is Verdict.PROCESS
        sequencer.processed(TP0, offset)
    assert sequencer.next_offset(TP0) == 24


def test_a_new_ownership_starts_from_the_group_s_committed_offset() -> None:
    log = Log(list(range(10)), committed=4)
    sequencer = OffsetSequencer(log.probe, log.committed)
    assert admit(sequencer, 4).verdict is Verdict.PROCESS
    sequencer.processed(TP0, 4)
    sequencer.forget([TP0])
    log.committed_offset = 8  # another worker owned the partition meanwhile
    assert admit(sequencer, 6).verdict is Verdict.DUPLICATE
    assert admit(sequencer, 8).verdict is Verdict.PROCESS


@settings(max_examples=200, deadline=None)
@given(
    holes=st.lists(st.booleans(), min_size=5, max_size=40),
    faults=st.lists(st.sampled_from(["ok", "ok", "ok", "again", "vanish", "rewind"]), min_size=1, max_size=200),
)
def test_whatever_the_delivery_does_each_record_is_processed_once_in_order(
    holes: list[bool], faults: list[str]
) -> None:
    # Offsets with `True` hold a record; the others are markers or aborted records the reader skips.
    records = [offset for offset, has_record in enumerate(holes) if has_record]
    log = Log(records)
    sequencer = OffsetSequencer(log.probe, log.committed)
    processed: list[int] = []
    position = 0  # index into `records` of the next delivery
    steps = 0
    pending_faults = list(faults)
    while position < len(records) and steps < 10_000:
        steps += 1
        fault = pending_faults.pop() if pending_faults else "ok"
        if fault == "vanish" and position + 1 < len(records):
            position += 1  # a record is dropped on its way to the agent
        elif fault == "rewind":
            position = max(0, position - 3)  # a seek back re-delivers what was already processed
        offset = records[position]
        admission = admit(sequencer, offset)
        if admission.verdict is Verdict.PROCESS:
            processed.append(offset)
            sequencer.processed(TP0, offset)
        elif admission.verdict in {Verdict.LOST, Verdict.WAIT}:
            assert admission.seek_to is not None
            position = records.index(admission.seek_to)
            continue
        if fault != "again":
            position += 1
    assert processed == records
