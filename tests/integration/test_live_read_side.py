"""The worker's live read side on a real broker: queries, routing, readiness, metrics, lag and exposure.

Every answer is judged against the source of truth: an arena's breakdown must equal the replay of the
event topic up to the seq the answer names, whichever worker was asked and whether or not the answer
was taken while commands were still being processed; the metrics must equal what the pure core and
the hostile generator say a known workload does.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from producers.publisher import CommandPublisher
from producers.simulation import SimulationConfig, simulate
from schemas.commands import Command, parse_command
from schemas.events import AllocationError, CommandRejected, Event, decode_event
from schemas.queries import ArenaBreakdown, ArenaList
from streams.cli import main
from streams.domain import ArenaState, evolve
from streams.domain.breakdown import breakdown_of
from streams.history.audit import audit_records
from streams.kafka.lag import LagProbe, wait_for_worker
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import read_snapshot
from streams.worker.process import running_worker, spawn_worker, terminate_worker, worker_env
from tests.support.histories import core_outcome
from tests.support.hostile import Outcome, generate
from tests.support.web import free_port, get, get_raw, ready, wait_for

pytestmark = pytest.mark.integration

TOKEN = "t0ken-Never-Log-Me-41c9"
FEED_S = 4.0


def _feed(settings: Settings, commands: list[Command], seconds: float, slices: int = 40) -> None:
    """Publish `commands` in order, in `slices` slices spread over about `seconds`."""
    size = max(1, -(-len(commands) // slices))
    with CommandPublisher(settings) as publisher:
        for start in range(0, len(commands), size):
            publisher.publish_many(commands[start : start + size])
            time.sleep(seconds / slices)


def _use_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, app_id: str, tmp_path: Path) -> None:
    """The command line reads its settings from the environment, like a user's shell."""
    for name, value in worker_env(settings, app_id, tmp_path).items():
        if name.startswith(("ARENA_", "KAFKA_")):
            monkeypatch.setenv(name, value)


def _replayed(settings: Settings) -> dict[str, list[Event]]:
    audit = audit_records(read_snapshot(settings, settings.topics.events), topic=settings.topics.events)
    assert audit.passed, audit.verdict()
    by_arena: dict[str, list[Event]] = {}
    for event in audit.events:
        by_arena.setdefault(event.arena_id, []).append(event)
    return by_arena


def _state_at(events: list[Event], arena_id: str, seq: int) -> ArenaState:
    state = ArenaState.empty(arena_id)
    for event in events:
        if event.seq <= seq:
            state = evolve(state, event)
    assert state.last_seq == seq, f"{arena_id}: the topic has no seq {seq}"
    return state


def test_two_workers_each_answer_for_every_arena_as_the_event_topic_says_at_the_seq_named(
    settings: Settings, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app_id = f"{prefix}app"
    config = SimulationConfig(
        seed=11, arenas=6, agents_per_arena=24, days=8, evolution_every_days=3, partitions=settings.partitions
    )
    commands = list(simulate(config, partitioner=partition_for).commands())
    arenas = sorted({c.arena_id for c in commands})
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    with ExitStack() as stack:
        for name, port in zip(("worker-a", "worker-b"), ports, strict=True):
            stack.enter_context(
                running_worker(settings, app_id, tmp_path, name=name, env={"ARENA_WEB_PORT": str(port)})
            )

        def both_hold_partitions() -> bool:
            answers = [get(url, "/ready")[1] for url in urls]
            held = [set(a["assigned_partitions"]) for a in answers]
            shared = held[0].isdisjoint(held[1]) and held[0] | held[1] == set(range(settings.partitions))
            return all(a["ready"] for a in answers) and shared

        wait_for("both workers ready, sharing the partitions", both_hold_partitions, timeout_s=120)
        owners = {p: url for url in urls for p in get(url, "/ready")[1]["assigned_partitions"]}
        assert {owners[partition_for(a, settings.partitions)] for a in arenas} == set(urls), "arenas on both workers"

        # The commands are fed over a few seconds: the batch worker decides the whole workload in well
        # under a second, so answers asked for after a bulk publish would all be taken at rest.
        feeder = threading.Thread(target=_feed, args=(settings, commands, FEED_S), daemon=True)
        feeder.start()
        # Answers taken while the workers are still processing: each names its seq, committed or not.
        midway: list[ArenaBreakdown] = []
        with LagProbe(settings, app_id) as probe:
            deadline = time.monotonic() + 300

            def processing() -> bool:
                return feeder.is_alive() or probe.measure([settings.topics.commands], members=False).total > 0

            while processing() and time.monotonic() < deadline:
                for url in urls:
                    for arena in arenas:
                        status, body = get(url, f"/arenas/{arena}")
                        if status == 200:
                            midway.append(ArenaBreakdown.model_validate(body))
                        else:  # not created yet, or its partition moving
                            assert status in {404, 503}, body
        feeder.join(60)
        wait_for_worker(settings, app_id, timeout_s=300)

        final = {url: {a: get(url, f"/arenas/{a}") for a in arenas} for url in urls}
        listings = [ArenaList.model_validate(get(url, "/arenas")[1]) for url in urls]
        _use_env(monkeypatch, settings, app_id, tmp_path)
        capsys.readouterr()
        assert main(["query", arenas[0], "--url", urls[1]]) == 0
        printed = capsys.readouterr().out
        assert main(["query", arenas[0], "--committed"]) == 0
        printed_committed = capsys.readouterr().out

    for url in urls:
        for arena in arenas:
            status, body = final[url][arena]
            assert status == 200, body
            assert body == final[urls[0]][arena][1], f"{arena}: the two workers answer differently"
            served = body["served_by"]
            assert served["worker"] == owners[partition_for(arena, settings.partitions)]
            assert served["committed"] is True and body["ledger"]["agrees"] is True
    for listing in listings:
        assert listing.complete and [s.arena_id for s in listing.arenas] == arenas
        assert all(s.seq == final[urls[0]][s.arena_id][1]["seq"] for s in listing.arenas)

    events = _replayed(settings)
    answers = midway + [ArenaBreakdown.model_validate(final[urls[0]][a][1]) for a in arenas]
    final_seq = {a: final[urls[0]][a][1]["seq"] for a in arenas}
    assert any(a.seq < final_seq[a.arena_id] for a in midway), "no answer was taken while the workers processed"
    pending = sum(1 for a in midway if not a.served_by.committed)
    print(f"\n{len(midway)} answers mid-way ({pending} with writes not yet committed), {len(arenas)} arenas at rest")
    for answer in answers:
        replayed = breakdown_of(_state_at(events[answer.arena_id], answer.arena_id, answer.seq), answer.served_by)
        assert answer.model_dump(exclude={"ledger"}) == replayed.model_dump(exclude={"ledger"}), (
            f"{answer.arena_id} at seq {answer.seq} differs from the replay"
        )
    treasury = final[urls[0]][arenas[0]][1]["treasury"]
    major, minor = divmod(treasury["amount"], 100)
    assert f"seq {final[urls[0]][arenas[0]][1]['seq']}" in printed and f"{major:,}.{minor:02d} USD" in printed
    assert f"{major:,}.{minor:02d} USD" in printed_committed and "changelog of" in printed_committed


def _metric_samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def _by(samples: dict[tuple[tuple[str, str], ...], float], label: str) -> Counter[str]:
    totals: Counter[str] = Counter()
    for labels, value in samples.items():
        totals[dict(labels)[label]] += int(value)
    return totals


def test_metrics_parse_and_count_exactly_what_a_known_workload_does(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    # Messages the plain publisher can send (tombstones and forced partitions need another producer).
    messages = [
        m
        for m in generate(7, arenas=6, bad=400, partitions=settings.partitions, huge_genomes=0)
        if m.value is not None and m.partition is None and m.key is not None
    ]
    dead = Counter(str(m.expected.reason) for m in messages if m.expected.outcome is Outcome.DEAD_LETTER)
    streams: dict[str, list[Command]] = {}
    for m in messages:
        if m.reaches_core and m.value is not None:
            streams.setdefault(m.arena, []).append(parse_command(m.value))
    expected_events: list[Event] = []
    duplicates = 0
    for commands in streams.values():
        produced, dup = core_outcome(commands)
        expected_events.extend(decode_event(raw) for raw in produced)
        duplicates += dup
    rejections = Counter(
        e.payload.reason.value for e in expected_events if isinstance(e.payload, CommandRejected | AllocationError)
    )
    assert dead and rejections, "the workload must exercise both"

    app_id = f"{prefix}app"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running_worker(settings, app_id, tmp_path, env={"ARENA_WEB_PORT": str(port)}) as worker:
        with CommandPublisher(settings) as publisher:
            for m in messages:
                publisher.publish_raw(m.key, m.value)  # type: ignore[arg-type]
        wait_for_worker(settings, app_id, timeout_s=300, alive=worker.alive)
        status, body, content_type = get_raw(url, "/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    samples = _metric_samples(body.decode())

    by_command = samples["arena_commands_total"]
    assert sum(by_command.values()) == len(messages)
    outcomes = _by(by_command, "outcome")
    assert outcomes["dead_lettered"] == sum(dead.values())
    assert outcomes["duplicate"] == duplicates
    assert outcomes["rejected"] == sum(rejections.values())
    assert outcomes["accepted"] == len(messages) - sum(dead.values()) - duplicates - sum(rejections.values())
    assert _by(samples["arena_dead_letters_total"], "reason") == dead
    assert _by(samples["arena_rejections_total"], "reason") == rejections
    assert _by(samples["arena_events_total"], "type") == Counter(e.type for e in expected_events)
    assert samples["arena_ledger_events_total"][()] == len(expected_events)
    assert sum(samples.get("arena_alerts_total", {}).values()) == 0
    commits = samples["arena_transaction_commit_duration_seconds_count"][()]
    assert commits >= 1
    # Every message is processed in exactly one unit (units are batches: how many depends on timing).
    assert samples["arena_unit_messages_sum"][(("processor", "command"),)] == len(messages)
    assert samples["arena_unit_messages_sum"][(("processor", "ledger"),)] == len(expected_events)
    assert 1 <= samples["arena_unit_duration_seconds_count"][(("processor", "command"),)] <= len(messages)
    assert samples["arena_ready"][()] == 1
    assigned = samples["arena_partitions_assigned"]
    assert assigned[(("role", "commands"),)] == assigned[(("role", "ledger"),)] == settings.partitions
    assert samples["process_cpu_seconds_total"][()] > 0


def test_ready_is_503_while_a_worker_recovers_and_200_after(settings: Settings, prefix: str, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process, log_path = spawn_worker(
        settings,
        f"{prefix}app",
        tmp_path,
        name="slow",
        module="tests.support.slow_recovery_worker",
        env={"ARENA_WEB_PORT": str(port), "ARENA_TEST_RECOVERY_DELAY_S": "6"},
    )
    seen: list[tuple[int, tuple[str, ...]]] = []
    health: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status, body = get(url, "/ready", timeout_s=5)
                health.append(get(url, "/health", timeout_s=5)[0])
            except OSError:
                time.sleep(0.1)
                continue
            seen.append((status, tuple(body["reasons"])))
            if status == 200:
                break
            time.sleep(0.2)
        log = log_path.read_text(errors="replace")
    finally:
        terminate_worker(process)
    assert seen and seen[-1][0] == 200, f"never ready: {seen[-3:]}\n{log[-3000:]}"
    recovering = [reasons for status, reasons in seen if status == 503 and any("recovering" in r for r in reasons)]
    assert recovering, f"no 503 saying it recovers: {sorted(set(seen))}"
    assert all(status == 503 for status, _ in seen[:-1]), "ready only once, at the end"
    assert set(health) == {200}, "the process answers /health all along"
    assert "waiting 6.0s before reading" in log


def test_lag_counts_waiting_commands_and_arena_lag_wait_returns_once_it_is_zero(
    settings: Settings, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    app_id = f"{prefix}app"
    _use_env(monkeypatch, settings, app_id, tmp_path)
    config = SimulationConfig(seed=3, arenas=3, agents_per_arena=6, days=3, partitions=settings.partitions)
    with CommandPublisher(settings) as publisher:
        published = publisher.publish_many(simulate(config, partitioner=partition_for).commands())

    capsys.readouterr()
    assert main(["lag", "--json"]) == 1, "commands wait and no worker runs"
    before = orjson.loads(capsys.readouterr().out)
    commands_lag = sum(p["lag"] for p in before["partitions"] if p["topic"] == settings.topics.commands)
    assert commands_lag == published

    with running_worker(settings, app_id, tmp_path):
        began = time.monotonic()
        assert main(["lag", "--wait", "--timeout", "300"]) == 0
        waited = time.monotonic() - began
        capsys.readouterr()
        assert main(["lag", "--json"]) == 0
        after = orjson.loads(capsys.readouterr().out)
        assert main(["lag"]) == 0
        table = capsys.readouterr().out
    assert after["total"] == 0 and all(p["lag"] == 0 for p in after["partitions"])
    events = [p for p in after["partitions"] if p["topic"] == settings.topics.events and p["end"] > 0]
    assert events and all(p["committed"] < p["end"] for p in events), "the ends are commit markers, not lag"
    assert all(p["owner"] and p["owner"].startswith("arena-worker-") for p in after["partitions"])
    assert "total lag 0 (caught up)" in table and "(markers only)" in table
    print(f"\narena lag --wait returned after {waited:.1f}s for {published} commands")


def test_a_non_loopback_bind_needs_the_token_and_a_request_without_it_is_refused(
    settings: Settings, prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    exposed = {"ARENA_WEB_PORT": str(port), "ARENA_WEB_BIND": "0.0.0.0"}
    process, log_path = spawn_worker(settings, f"{prefix}refused", tmp_path, name="no-token", env=exposed)
    try:
        code = process.wait(60)
    finally:
        terminate_worker(process)
    assert code == 2, log_path.read_text(errors="replace")[-2000:]
    assert "set ARENA_WEB_TOKEN" in log_path.read_text(errors="replace")

    url = f"http://127.0.0.1:{port}"
    with running_worker(
        settings, f"{prefix}app", tmp_path, name="with-token", env={**exposed, "ARENA_WEB_TOKEN": TOKEN}
    ) as worker:
        wait_for("ready", lambda: ready(url, TOKEN), timeout_s=60)
        refused = {path: get(url, path) for path in ("/arenas", "/metrics", "/ready", "/")}
        wrong = get(url, "/arenas", token="not-" + TOKEN)
        admitted = get(url, "/arenas", token=TOKEN)
        posted = get_raw(url, "/arenas", token=TOKEN, method="POST")
        log = worker.log_path.read_text(errors="replace")
    for path, (status, body) in refused.items():
        assert status == 401 and body["error"]["code"] == "UNAUTHORIZED", (path, body)
    assert wrong[0] == 401
    assert admitted[0] == 200 and admitted[1]["complete"] is True
    assert posted[0] == 405 and orjson.loads(posted[1])["error"]["code"] == "METHOD_NOT_ALLOWED"
    assert TOKEN not in log, "the token reached the worker's log"
