"""Engine restarts on a real broker: an engine that re-sends its last commands after a restart doubles nothing.

An engine that crashes cannot know which of its last commands reached Kafka, so on restart it sends
them again: same command ids, same bytes, from a new producer (a new idempotence session, so the
broker's own de-duplication cannot help). Meanwhile another engine keeps sending newer commands for
the same arenas, so the re-sends land after those. The pipeline must decide every command once:
every event exactly once, seq contiguous per arena, and exactly the pure core's events.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from producers.publisher import CommandPublisher
from schemas.alerts import decode_alert
from schemas.commands import Command, encode_command, parse_command
from schemas.events import Event, decode_event
from streams.kafka.lag import LagTimeout, wait_for_worker
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.worker.process import WorkerHandle, running_worker
from tests.support.builders import command
from tests.support.histories import arena_commands, core_outcome
from tests.support.kafka_io import read_all

pytestmark = pytest.mark.integration

TIMEOUT_S = 180.0
REPUBLISH_A = 60  # engine A's last commands, re-sent after its restart (they span every arena)
REPUBLISH_B = 24  # engine B's last commands, evolution cycles included (commands with many events)


def _round_robin(per_arena: dict[str, list[Command]]) -> list[Command]:
    longest = max(len(c) for c in per_arena.values())
    return [cmds[i] for i in range(longest) for cmds in per_arena.values() if i < len(cmds)]


def _later_commands(arena: str) -> list[Command]:
    """Engine B: more trading days for the same agents, then an evolution cycle, then a day after it."""
    cmds: list[Command] = []

    def add(type_: str, **fields: object) -> None:
        cmds.append(command(type_, arena_id=arena, command_id=f"B:{arena}:{len(cmds)}", **fields))

    for day in range(4, 7):
        for n in range(3):
            add(
                "RecordPnL",
                agent_id=f"a{n}",
                amount=(day * 53 + n * 17) % 700 - 300,
                currency="EUR",
                period=day,
                source="simulation",
            )
    add("RunEvolutionCycle", cycle=1)
    for n in range(3):
        add("RecordPnL", agent_id=f"a{n}", amount=25, currency="EUR", period=7, source="simulation")
    return cmds


def _publish(settings: Settings, raws: list[tuple[str, bytes]]) -> None:
    """One engine run: a fresh idempotent producer (a new producer id), flushed and closed at the end."""
    with CommandPublisher(settings) as publisher:
        for arena, raw in raws:
            publisher.publish_raw(arena, raw)
    assert publisher.stats.delivered == len(raws) and publisher.stats.failed == 0


def _caught_up(settings: Settings, app_id: str, worker: WorkerHandle) -> float:
    try:
        return wait_for_worker(settings, app_id, timeout_s=TIMEOUT_S, alive=worker.alive)
    except LagTimeout as exc:
        pytest.fail(f"{exc}\n{worker.log_tail(6000)}")


def test_engines_that_republish_their_last_commands_after_a_restart_cause_no_duplicate_event(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    arenas = [f"engine-arena-{i}" for i in range(6)]
    assert len({partition_for(a, settings.partitions) for a in arenas}) > 1, "the test must span partitions"
    engine_a = [
        (c.arena_id, encode_command(c)) for c in _round_robin({a: arena_commands(a, s) for s, a in enumerate(arenas)})
    ]
    engine_b = [(c.arena_id, encode_command(c)) for c in _round_robin({a: _later_commands(a) for a in arenas})]
    resend_a = engine_a[-REPUBLISH_A:]
    resend_b = engine_b[-REPUBLISH_B:]
    assert {a for a, _ in resend_a} == set(arenas), "the re-sent tail spans every arena"
    assert any(b"RunEvolutionCycle" in raw for _a, raw in resend_b)
    half = len(engine_b) // 2

    # The order on the command topic, which is what the pure core must be fed to say what comes out.
    timeline = engine_a + engine_b[:half] + resend_a + engine_b[half:] + resend_b + resend_a
    streams: dict[str, list[Command]] = defaultdict(list)
    for _arena, raw in timeline:
        cmd = parse_command(raw)
        streams[cmd.arena_id].append(cmd)
    expected: dict[str, list[bytes]] = {}
    duplicates = 0
    for arena, cmds in streams.items():
        expected[arena], dups = core_outcome(cmds)
        duplicates += dups
    resent = 2 * REPUBLISH_A + REPUBLISH_B
    assert duplicates == resent, "every re-sent command is a duplicate for the core"
    total = sum(len(v) for v in expected.values())

    app_id = f"{prefix}app"
    began = time.monotonic()
    with running_worker(settings, app_id, tmp_path) as worker:
        _publish(settings, engine_a)  # engine A runs, then crashes without knowing what got through
        _publish(settings, engine_b[:half])  # engine B carries on with newer commands
        _publish(settings, resend_a)  # engine A restarts: its last commands again, after B's
        _publish(settings, engine_b[half:])
        first_s = _caught_up(settings, app_id, worker)
        _publish(settings, resend_b)  # engine B restarts too, after everything was processed
        _publish(settings, resend_a)  # and A once more (a second crash loop), against settled state
        second_s = _caught_up(settings, app_id, worker)
        # lag 0 on both topics: every event is committed and checked; nothing more can come
        records = read_all(settings, settings.topics.events)
        dead = read_all(settings, settings.topics.dlq)
        alerts = [a for a in read_all(settings, settings.topics.alerts) if a.value]
        alive_at_end = worker.alive()
    log_text = worker.log_path.read_text(errors="replace")

    events: list[Event] = []
    got: dict[str, list[bytes]] = defaultdict(list)
    for record in records:
        assert record.value is not None and record.key is not None
        event = decode_event(record.value)
        assert record.key == event.arena_id.encode()
        events.append(event)
        got[event.arena_id].append(record.value)
    by_event_id = Counter(e.event_id for e in events)
    per_command: dict[str, list[Event]] = defaultdict(list)
    for event in sorted(events, key=lambda e: (e.arena_id, e.seq)):
        per_command[event.causation_id].append(event)
    by_cause_index = Counter((cause, i) for cause, evs in per_command.items() for i in range(len(evs)))
    distinct_commands = len({raw for _a, raw in engine_a + engine_b})
    print(
        f"\nengine restarts: {len(timeline)} commands published ({len(engine_a)} by A, {len(engine_b)} by B, "
        f"{resent} re-sent: A's last {REPUBLISH_A} twice, B's last {REPUBLISH_B} once) over {len(arenas)} arenas; "
        f"{len(events)} events from {len(per_command)} commands (expected {total} from {distinct_commands}); "
        f"caught up {first_s:.1f}s then {second_s:.1f}s; {len(dead)} dead letters, {len(alerts)} alerts; "
        f"wall {time.monotonic() - began:.1f}s"
    )

    assert alive_at_end and log_text.count("[^Worker]: Ready") == 1, log_text[-6000:]
    doubled = {k: n for k, n in by_event_id.items() if n > 1}
    assert not doubled, f"{len(doubled)} event ids appear more than once, e.g. {list(doubled.items())[:5]}"
    for cause, evs in per_command.items():
        assert [e.event_id for e in evs] == [f"{cause}:{i}" for i in range(len(evs))], cause
    assert all(n == 1 for n in by_cause_index.values())
    assert len(per_command) == distinct_commands, "every command decided once, none twice, none lost"
    assert len(events) == total, f"{len(events)} events, the core decided {total}"
    for arena in arenas:
        seqs = [decode_event(raw).seq for raw in got[arena]]
        assert seqs == list(range(1, len(seqs) + 1)), f"{arena}: seq not contiguous"
        chain = [decode_event(raw) for raw in got[arena]]
        assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(chain))
        assert got[arena] == expected[arena], f"{arena}: the events differ from the pure core's"
    assert dead == [], "a re-sent command is a duplicate, not a bad message"
    assert [decode_alert(a.value) for a in alerts if a.value] == [], "the ledger saw no duplicate or gap"
