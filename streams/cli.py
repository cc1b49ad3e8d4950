"""`arena`: the command line of the pipeline. Thin: it parses, calls one module, prints.

Errors a person can fix (no java, a port clash, a broker that does not come up, a topic layout that
does not match) end in one line on stderr and a non-zero exit, never in a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from streams.broker.cluster import ensure_cluster
from streams.broker.errors import BrokerError
from streams.broker.launcher import LocalBroker
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import TopicReadError
from streams.kafka.topics import (
    TopicLayoutError,
    TopicsNotServed,
    create_topics,
    describe_topics,
    topic_layout,
    wait_until_served,
    worker_topic_layout,
)

if TYPE_CHECKING:
    from producers.simulation import SimulationConfig
    from streams.history.progress import Progress
    from streams.kafka.lag import GroupLag

Handler = Callable[[argparse.Namespace], int]


def _progress(message: str) -> None:
    print(f"… {message}", file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    if getattr(args, "bootstrap", None):
        settings = settings.with_bootstrap(args.bootstrap)
    if getattr(args, "partitions", None):
        from dataclasses import replace  # noqa: PLC0415

        settings = replace(settings, partitions=args.partitions)
    if getattr(args, "app_id", None):
        settings = settings.with_worker(app_id=args.app_id)
    return settings


# ---- broker -------------------------------------------------------------------------------------


def _broker_start(args: argparse.Namespace) -> int:
    result = LocalBroker().start(nodes=args.nodes, port=args.port, timeout_s=args.timeout, progress=_progress)
    info = result.info
    state = "already running" if result.reused else f"started in {result.seconds:.1f}s"
    pids = ", ".join(str(node.pid) for node in info.nodes)
    print(f"Kafka {info.kafka_version} {state}: {len(info.nodes)} node(s), bootstrap {info.bootstrap} (pid {pids})")
    return 0


def _broker_stop(_args: argparse.Namespace) -> int:
    info = LocalBroker().stop()
    if info is None:
        print("no local broker was running")
    else:
        pids = ", ".join(str(node.pid) for node in info.nodes)
        print(f"stopped the local broker: {len(info.nodes)} node(s) (pid {pids})")
    return 0


def _broker_status(_args: argparse.Namespace) -> int:
    broker = LocalBroker()
    info = broker.status()
    if info is None:
        print(f"not running (home {broker.paths.home})")
        return 3
    answering = "answering" if broker.answers(info.bootstrap) else "NOT answering metadata requests"
    live = broker.live_nodes(info)
    print(f"running, {answering}: {len(live)} of {len(info.nodes)} node(s) up")
    print(f"  bootstrap  {info.bootstrap}")
    print(f"  version    Kafka {info.kafka_version}")
    for node in info.nodes:
        paths = broker.paths.node(node.node_id, len(info.nodes))
        state = "up" if node.node_id in live else "DOWN"
        print(f"  node {node.node_id}     {state}, pid {node.pid}, {node.bootstrap}, data {node.data_dir}")
        print(f"             log {paths.log_file}")
    return 0 if len(live) == len(info.nodes) else 4


# ---- topics -------------------------------------------------------------------------------------


def _topics_create(args: argparse.Namespace) -> int:
    settings = ensure_cluster(_settings(args), progress=_progress)
    layout = worker_topic_layout(settings, settings.worker.app_id)
    created = create_topics(settings, layout)
    wait_until_served(settings, [spec.name for spec in layout], partitions=settings.partitions)
    print(f"created {len(created)} topic(s): {', '.join(created) if created else 'none missing'}")
    return _topics_describe(args, settings)


def _topics_describe(args: argparse.Namespace, settings: Settings | None = None) -> int:
    settings = settings or ensure_cluster(_settings(args), progress=_progress)
    layout = worker_topic_layout(settings, settings.worker.app_id)
    states = describe_topics(settings, [spec.name for spec in layout])
    width = max(28, *(len(spec.name) for spec in layout))
    print(
        f"{'topic':<{width}} {'partitions':>10} {'replicas':>8} {'min ISR':>7}  {'cleanup':<8} {'retention.ms':>13}  "
        "purpose"
    )
    for spec in layout:
        state = states.get(spec.name)
        if state is None:
            print(f"{spec.name:<{width}} {'missing':>10}")
            continue
        retention = state.configs.get("retention.ms", "default")
        cleanup = state.configs.get("cleanup.policy", "delete")
        min_isr = state.configs.get("min.insync.replicas", "default")
        print(
            f"{spec.name:<{width}} {state.partitions:>10} {state.replication:>8} {min_isr:>7}  {cleanup:<8} "
            f"{retention:>13}  "
            f"{spec.purpose}"
        )
    return 0 if len(states) == len(layout) else 1


# ---- worker -------------------------------------------------------------------------------------


def _worker(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from streams.worker.run import run_worker  # noqa: PLC0415 - Faust is slow to import

    settings = ensure_cluster(_settings(args), progress=_progress)
    if args.web_port is not None:
        settings = settings.with_worker(web_port=args.web_port)
    if args.datadir:
        settings = settings.with_worker(datadir=Path(args.datadir))
    if args.role:
        settings = settings.with_worker(role=args.role)
    _progress(f"worker {settings.worker.app_id} on {settings.bootstrap}: {settings.redacted()['topics']}")
    return run_worker(settings, loglevel=args.loglevel)


# ---- lag and queries ----------------------------------------------------------------------------


def _lag(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415

    from streams.kafka.lag import LagTimeout, group_lag, wait_for_worker, worker_groups  # noqa: PLC0415

    settings = ensure_cluster(_settings(args), progress=_progress)
    app_id = settings.worker.app_id
    if args.wait:
        last = [0.0]

        def show(lag: GroupLag) -> None:
            now = time.monotonic()
            if now - last[0] >= 2.0:
                last[0] = now
                _progress(f"group {lag.group_id}: lag {lag.total:,}")

        try:
            waited = wait_for_worker(settings, app_id, timeout_s=args.timeout, progress=show)
        except LagTimeout as exc:
            print(f"arena lag: {exc}", file=sys.stderr)
            return 1
        _progress(f"groups {app_id} and its ledger caught up (lag 0) after {waited:.1f}s")
    lags = [group_lag(settings, group, topics) for group, topics in worker_groups(settings, app_id)]
    total = sum(lag.total for lag in lags)
    if args.json:
        print(orjson.dumps(_lag_json(lags)).decode())
    else:
        print("\n".join(_lag_table(lag) for lag in lags))
        print(f"total lag {total:,}" + (" (caught up)" if total == 0 else ""))
    return 0 if total == 0 else 1


def _lag_json(lags: list[GroupLag]) -> dict[str, object]:
    return {
        "groups": [{"group": lag.group_id, "state": lag.state, "total": lag.total} for lag in lags],
        "total": sum(lag.total for lag in lags),
        "partitions": [
            {
                "group": lag.group_id,
                "topic": p.topic,
                "partition": p.partition,
                "end": p.end,
                "committed": p.committed,
                "lag": p.lag,
                "owner": (owner.client_id if (owner := lag.owner(p.topic, p.partition)) else None),
            }
            for lag in lags
            for p in lag.partitions
        ],
    }


def _lag_table(lag: GroupLag) -> str:
    width = max(12, *(len(p.topic) for p in lag.partitions)) if lag.partitions else 12
    lines = [
        f"group {lag.group_id}: {lag.state or 'unknown'}, {len(lag.members)} member(s)",
        f"  {'topic':<{width}} {'partition':>9} {'end':>12} {'committed':>12} {'lag':>10}  owner",
    ]
    for p in lag.partitions:
        owner = lag.owner(p.topic, p.partition)
        committed = f"{p.committed:,}" if p.committed is not None else "-"
        note = " (markers only)" if p.lag == 0 and p.committed is not None and p.committed < p.end else ""
        lines.append(
            f"  {p.topic:<{width}} {p.partition:>9} {p.end:>12,} {committed:>12} {p.lag:>10,}  "
            f"{owner.client_id if owner else '-'}{note}"
        )
    return "\n".join(lines)


def _query(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415

    from schemas.queries import AgentList, ArenaBreakdown  # noqa: PLC0415
    from streams.report.breakdown_text import agents_text, breakdown_text  # noqa: PLC0415
    from streams.worker.web.client import QueryError, get_json, worker_url  # noqa: PLC0415

    settings = _settings(args)
    if args.committed:
        return _query_committed(args, ensure_cluster(settings, progress=_progress))
    url = args.url or worker_url(settings.worker)
    if url is None:
        print(
            "arena query: no worker address: pass --url http://HOST:PORT, set ARENA_WEB_PORT (or ARENA_WEB_URL), "
            "or read the committed changelog with --committed",
            file=sys.stderr,
        )
        return 2
    token = settings.worker.web_token
    try:
        answer = get_json(url, f"/arenas/{args.arena}", token=token)
        agents = get_json(url, f"/arenas/{args.arena}/agents", token=token) if args.agents else None
    except QueryError as exc:
        print(f"arena query: {exc}", file=sys.stderr)
        return 1 if exc.status == 404 else 2
    if args.json:
        print(orjson.dumps(answer if agents is None else {**answer, "agent_list": agents}).decode())
        return 0
    print(breakdown_text(ArenaBreakdown.model_validate(answer)))
    if agents is not None:
        print(agents_text(AgentList.model_validate(agents)))
    return 0


def _query_committed(args: argparse.Namespace, settings: Settings) -> int:
    """The breakdown from the worker's committed changelog: no worker needed, no pending write."""
    import orjson  # noqa: PLC0415

    from schemas.queries import AgentList, ServedBy  # noqa: PLC0415
    from streams.domain.breakdown import agents_of, breakdown_of  # noqa: PLC0415
    from streams.history.live_state import live_states  # noqa: PLC0415
    from streams.kafka.partitioning import partition_for  # noqa: PLC0415
    from streams.report.breakdown_text import agents_text, breakdown_text  # noqa: PLC0415

    state = live_states(settings, settings.worker.app_id).get(args.arena)
    if state is None:
        where = f"the committed tables of {settings.worker.app_id}"
        print(f"arena query: no arena {args.arena!r} in {where}", file=sys.stderr)
        return 1
    served = ServedBy(
        worker=f"changelog of {settings.worker.app_id}",
        partition=partition_for(args.arena, settings.partitions),
        committed=True,
    )
    answer = breakdown_of(state, served)
    listed = agents_of(state)[1] if args.agents else None
    if args.json:
        document = answer.model_dump(mode="json")
        if listed is not None:
            document["agent_list"] = [a.model_dump(mode="json") for a in listed]
        print(orjson.dumps(document).decode())
        return 0
    print(breakdown_text(answer))
    if listed is not None:
        print(
            agents_text(
                AgentList(
                    arena_id=state.arena_id,
                    seq=state.last_seq,
                    served_by=served,
                    tier=None,
                    status=None,
                    total=len(listed),
                    agents=listed,
                )
            )
        )
    return 0


# ---- reading topics -----------------------------------------------------------------------------


def _tail(args: argparse.Namespace) -> int:
    from streams.history import tail  # noqa: PLC0415

    settings = ensure_cluster(_settings(args), progress=_progress)
    topic, formatter = _tail_target(settings, args.what)
    records = (
        tail.follow(settings, topic, from_end=False)
        if args.follow
        else iter(tail.snapshot(settings, topic, last=args.last))
    )
    for record in records:
        if args.arena and (record.key or b"").decode("utf-8", errors="replace") != args.arena:
            continue
        print((record.value or b"").decode("utf-8", errors="replace") if args.json else formatter(record), flush=True)
    return 0


def _tail_target(settings: Settings, what: str) -> tuple[str, Callable[..., str]]:
    from streams.history import tail  # noqa: PLC0415

    topics = settings.topics
    return {
        "events": (topics.events, tail.format_event),
        "commands": (topics.commands, tail.format_command),
        "dlq": (topics.dlq, tail.format_dead_letter),
        "alerts": (topics.alerts, tail.format_alert),
    }[what]


def _alerts(args: argparse.Namespace) -> int:
    from streams.history import tail  # noqa: PLC0415

    settings = ensure_cluster(_settings(args), progress=_progress)
    count = 0
    for record in tail.snapshot(settings, settings.topics.alerts, last=None):
        print(tail.format_alert(record), flush=True)
        count += 1
    if args.follow:
        for record in tail.follow(settings, settings.topics.alerts, from_end=True):
            print(tail.format_alert(record), flush=True)
            count += 1
    print(f"{count} alert(s) on {settings.topics.alerts}", file=sys.stderr)
    return 1 if count else 0


# ---- replay, audit, diff -------------------------------------------------------------------------


def _read_progress() -> Progress:
    from streams.history.progress import Progress  # noqa: PLC0415

    return Progress(lambda read: f"read {read:,} events")


def _disowned(args: argparse.Namespace) -> frozenset[tuple[int, int]]:
    from streams.history.replay import parse_record  # noqa: PLC0415

    return frozenset(parse_record(text) for text in args.disown or ())


def _replay(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415

    from streams.history.audit_report import replay_summary  # noqa: PLC0415
    from streams.history.replay import parse_point, replay  # noqa: PLC0415
    from streams.history.state_view import state_json, state_table  # noqa: PLC0415

    settings = ensure_cluster(_settings(args), progress=_progress)
    progress = _read_progress()
    try:
        result = replay(
            settings,
            start=parse_point(args.start),
            end=parse_point(args.end),
            arena=args.arena,
            keep_events=False,
            disowned=_disowned(args),
            progress=progress.update,
        )
    finally:
        progress.finish()
    audit = result.audit
    states = {a: s for a, s in audit.states.items() if args.arena is None or a == args.arena}
    compromised = {a: c for a, c in audit.compromised().items() if args.arena is None or a == args.arena}
    print(
        replay_summary(audit, topic=settings.topics.events, end=result.end, seconds=result.seconds),
        file=sys.stderr,
        flush=True,
    )
    document = {
        "end": result.end,
        "arenas": state_json(states),
        "compromised": {arena: c.row() for arena, c in compromised.items()},
        "problems": [alert.message for alert in audit.alerts] + audit.problems,
    }
    if args.out:
        Path(args.out).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        _progress(f"wrote {args.out}")
    if args.json:
        print(orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS).decode())
    else:
        print(state_table(states, agents=args.agents, compromised=compromised))
    return 0 if audit.passed else 1


def _audit(args: argparse.Namespace) -> int:
    from streams.history.audit_report import audit_lines, live_lines  # noqa: PLC0415
    from streams.history.live_state import compare, live_states  # noqa: PLC0415
    from streams.history.replay import replay  # noqa: PLC0415

    settings = ensure_cluster(_settings(args), progress=_progress)
    progress = _read_progress()
    try:
        result = replay(settings, keep_events=False, disowned=_disowned(args), progress=progress.update)
    finally:
        progress.finish()
    audit = result.audit
    lines = audit_lines(
        audit,
        topic=settings.topics.events,
        start=result.start,
        end=result.end,
        seconds=result.seconds,
        limit=args.limit,
    )
    for line in lines:
        print(line)
    differences = []
    if not args.no_live:
        # An arena held by an incident stays at its last good event in the replay: nothing to compare.
        held = sorted(arena for arena, c in audit.compromised().items() if c.holding)
        rebuilt = {arena: state for arena, state in audit.states.items() if arena not in held}
        live_now = live_states(settings, settings.worker.app_id)
        live = {arena: state for arena, state in live_now.items() if arena not in held}
        differences = compare(rebuilt, live)
        for line in live_lines(settings.worker.app_id, differences, held, args.limit):
            print(line)
    passed = audit.passed and not differences
    print("AUDIT PASSED" if passed else "AUDIT FAILED")
    return 0 if passed else 1


def _diff(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415

    from streams.history.diff import diff_arenas  # noqa: PLC0415
    from streams.history.replay import EARLIEST, parse_point, replay  # noqa: PLC0415

    settings = ensure_cluster(_settings(args), progress=_progress)
    before = replay(settings, start=EARLIEST, end=parse_point(args.start), arena=args.arena, keep_events=False)
    after = replay(settings, start=EARLIEST, end=parse_point(args.end), arena=args.arena)
    diffs = [
        d
        for d in diff_arenas(before.audit.states, after.audit.states, after.audit.events)
        if args.arena is None or d.arena_id == args.arena
    ]
    if args.json:
        print(orjson.dumps([d.as_json() for d in diffs]).decode())
        return 0
    for d in diffs:
        print(f"arena {d.arena_id}: seq {d.seq_from} -> {d.seq_to}, {sum(d.events.values())} events")
        counts = (len(d.spawned), len(d.killed), len(d.graduated), len(d.mutated))
        print("  spawned {}, killed {}, graduated {}, mutated {}".format(*counts))
        for tier, old in d.capital_before.items():
            new = d.capital_after[tier]
            print(f"  capital {tier:<10} {old:>16,} -> {new:>16,} ({new - old:+,})")
        print(
            f"  treasury           {d.treasury_before:>16,} -> {d.treasury_after:>16,} "
            f"({d.treasury_after - d.treasury_before:+,})"
        )
        top = sorted(d.pnl_by_agent.items(), key=lambda kv: (-kv[1], kv[0]))
        for agent, pnl in top[: args.limit]:
            print(f"  PnL {agent:<24} {pnl:+,}")
    return 0


# ---- engines ------------------------------------------------------------------------------------


def _simulation_config(args: argparse.Namespace, settings: Settings) -> SimulationConfig:
    from producers.simulation import SimulationConfig  # noqa: PLC0415

    return SimulationConfig(
        seed=args.seed,
        arenas=args.arenas,
        agents_per_arena=args.agents,
        days=args.days,
        evolution_every_days=args.evolution_every,
        partitions=settings.partitions,
    )


def _simulate(args: argparse.Namespace) -> int:
    from producers.publisher import CommandPublisher  # noqa: PLC0415
    from producers.simulation import simulate  # noqa: PLC0415
    from streams.kafka.partitioning import partition_for  # noqa: PLC0415

    settings = ensure_cluster(_settings(args), progress=_progress)
    create_topics(settings, topic_layout(settings))
    run = simulate(
        _simulation_config(args, settings),
        partitioner=partition_for,
        progress=lambda day: _progress(f"day {day}") if day and day % 5 == 0 else None,
    )
    with CommandPublisher(settings) as publisher:
        count = publisher.publish_many(run.commands())
    stats = run.stats
    print(f"published {count:,} commands for arenas {', '.join(run.arena_ids)} to {settings.topics.commands}")
    print(
        f"expected: {stats.events_total:,} events, {stats.rejections} rejections, {stats.killed} kills, "
        f"{stats.graduated} graduations, {stats.mutated} mutations"
    )
    return 0


def _publish_fills(args: argparse.Namespace) -> int:
    from producers.publisher import CommandPublisher  # noqa: PLC0415
    from producers.trading_adapter import read_fills  # noqa: PLC0415

    settings = ensure_cluster(_settings(args), progress=_progress)
    stream = sys.stdin.buffer if args.file == "-" else open(args.file, "rb")  # noqa: SIM115 - closed below
    try:
        feed = read_fills(
            stream, on_error=lambda e: print(f"line {e.line_no}: {e.reason}: {e.message}", file=sys.stderr)
        )
        with CommandPublisher(settings) as publisher:
            count = publisher.publish_many(feed)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    print(f"published {count:,} fills as RecordPnL commands; {feed.error_count} bad line(s) skipped")
    return 1 if feed.error_count else 0


# ---- main job -----------------------------------------------------------------------------------


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path  # noqa: PLC0415

    from streams.main_job import MainJobFailed, MainJobOptions, SimulationSource, run_main_job  # noqa: PLC0415

    settings = _settings(args)
    source = SimulationSource(_simulation_config(args, settings))
    options = MainJobOptions(report_root=Path(args.report_dir), external_workers=args.external_workers)
    try:
        return run_main_job(settings, source, options).exit_code
    except MainJobFailed as exc:
        print(f"arena run: {exc}", file=sys.stderr)
        return 3


# ---- parser -------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arena",
        description="arena-ledger: an event-sourced capital ledger for evolving trading agents, on Kafka.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for add in (_add_broker, _add_topics, _add_worker, _add_live, _add_readers, _add_history, _add_engines):
        add(sub)
    return parser


def _add_broker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    broker = sub.add_parser("broker", help="the project's local Kafka broker (KRaft, 127.0.0.1)")
    broker_sub = broker.add_subparsers(dest="action", required=True, metavar="ACTION")
    start = broker_sub.add_parser("start", help="start it, or reuse the running one")
    start.add_argument(
        "--nodes",
        type=int,
        default=None,
        help="1, or 3 for a cluster (quorum of three, replication 3, min ISR 2); default: as last started, else 1",
    )
    start.add_argument(
        "--port", type=int, default=None, help="(first) broker port (default: the last one, or a free one)"
    )
    start.add_argument("--timeout", type=float, default=120.0, help="seconds to wait until it answers")
    start.set_defaults(handler=_broker_start)
    broker_sub.add_parser("stop", help="stop it").set_defaults(handler=_broker_stop)
    broker_sub.add_parser(
        "status", help="bootstrap address, version, and each node's pid, data dir and log (exit 4: a node is down)"
    ).set_defaults(handler=_broker_status)


def _add_topics(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    topics = sub.add_parser("topics", help="create or describe the pipeline's topics")
    topics_sub = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, handler, text in (
        ("create", _topics_create, "create missing topics (the worker's table changelogs too), then describe them"),
        ("describe", _topics_describe, "partitions, replication, cleanup and retention of each topic"),
    ):
        action = topics_sub.add_parser(name, help=text)
        _cluster_flags(action)
        action.add_argument(
            "--app-id",
            help="the worker whose table changelog topics to include (default: $ARENA_APP_ID or arena-ledger)",
        )
        action.set_defaults(handler=handler)


def _add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="run the command and ledger processors (Faust, exactly-once)")
    _cluster_flags(worker)
    worker.add_argument("--app-id", help="Faust app id / consumer group (default: $ARENA_APP_ID or arena-ledger)")
    worker.add_argument(
        "--web-port", type=int, help="serve queries, health, metrics and the dashboard on PORT (default: off)"
    )
    worker.add_argument("--datadir", help="worker state directory (default: .arena/worker)")
    worker.add_argument(
        "--role",
        choices=["all", "commands", "ledger"],
        help="which processors to run: both in this process (all), or one, each its own consumer group "
        "(default: $ARENA_WORKER_ROLE or all)",
    )
    worker.add_argument("--loglevel", default="info", choices=["debug", "info", "warning", "error"])
    worker.set_defaults(handler=_worker)


def _add_live(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lag = sub.add_parser("lag", help="the worker groups' lag per partition; exit 0 when it is 0 (--wait: until it is)")
    _cluster_flags(lag)
    lag.add_argument(
        "--app-id", help="the worker's app id: groups <id> and <id>-ledger (default: $ARENA_APP_ID or arena-ledger)"
    )
    lag.add_argument("--wait", action="store_true", help="return once the lag is 0 on every partition")
    lag.add_argument("--timeout", type=float, default=600.0, help="--wait gives up after this many seconds (exit 1)")
    lag.add_argument("--json", action="store_true", help="print the lag as JSON")
    lag.set_defaults(handler=_lag)

    query = sub.add_parser("query", help="an arena's capital allocation breakdown, from a worker (or the changelog)")
    query.add_argument("arena", help="the arena id")
    query.add_argument("--url", help="a worker's web address (default: $ARENA_WEB_URL, or 127.0.0.1:$ARENA_WEB_PORT)")
    query.add_argument(
        "--committed", action="store_true", help="read the worker's committed changelog instead of asking a worker"
    )
    query.add_argument("--agents", action="store_true", help="also list the arena's agents")
    query.add_argument("--json", action="store_true", help="print the answer as JSON (minor units)")
    _cluster_flags(query)
    query.add_argument("--app-id", help="with --committed: the worker whose changelog to read")
    query.set_defaults(handler=_query)


def _add_readers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tail_cmd = sub.add_parser("tail", help="print the records of a pipeline topic, one line each")
    tail_cmd.add_argument("what", choices=["events", "commands", "dlq", "alerts"])
    _cluster_flags(tail_cmd)
    tail_cmd.add_argument("--follow", "-f", action="store_true", help="keep printing new records until Ctrl-C")
    tail_cmd.add_argument("--last", "-n", type=int, default=None, help="only the last N records of each partition")
    tail_cmd.add_argument("--arena", help="only this arena's records")
    tail_cmd.add_argument("--json", action="store_true", help="print raw values (for jq)")
    tail_cmd.set_defaults(handler=_tail)

    alerts = sub.add_parser("alerts", help="print conservation alerts; exit 1 if there is any (for scripts)")
    _cluster_flags(alerts)
    alerts.add_argument("--follow", "-f", action="store_true", help="keep printing new alerts until Ctrl-C")
    alerts.set_defaults(handler=_alerts)


def _add_history(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay_cmd = sub.add_parser("replay", help="rebuild state from the event topic up to a point (offsets or time)")
    _cluster_flags(replay_cmd)
    replay_cmd.add_argument("--from", dest="start", default="earliest", help="earliest | P:O,... | ISO time | @ms")
    replay_cmd.add_argument("--to", dest="end", default="latest", help="latest | P:O,... (exclusive) | ISO time | @ms")
    replay_cmd.add_argument("--arena", help="only this arena (reads only its partition)")
    replay_cmd.add_argument("--agents", action="store_true", help="list every agent in the table")
    replay_cmd.add_argument("--json", action="store_true", help="print the state as JSON rows")
    replay_cmd.add_argument("--out", help="also write the state as JSON to this file")
    _disown_flag(replay_cmd)
    replay_cmd.set_defaults(handler=_replay)

    audit_cmd = sub.add_parser("audit", help="check the whole event topic with the pure book; compare with live state")
    _cluster_flags(audit_cmd)
    audit_cmd.add_argument(
        "--app-id",
        help="the worker whose live tables to compare (default: $ARENA_APP_ID or arena-ledger)",
    )
    audit_cmd.add_argument("--no-live", action="store_true", help="skip the comparison with the live tables")
    audit_cmd.add_argument("--limit", type=int, default=20, help="at most this many findings of each kind shown")
    _disown_flag(audit_cmd)
    audit_cmd.set_defaults(handler=_audit)

    diff_cmd = sub.add_parser("diff", help="what changed between two points: agents, capital per tier, PnL per agent")
    _cluster_flags(diff_cmd)
    diff_cmd.add_argument("--from", dest="start", required=True, help="the first point (P:O,... | ISO time | @ms)")
    diff_cmd.add_argument("--to", dest="end", default="latest", help="the second point (default latest)")
    diff_cmd.add_argument("--arena", help="only this arena")
    diff_cmd.add_argument("--limit", type=int, default=10, help="agents shown by PnL (default 10)")
    diff_cmd.add_argument("--json", action="store_true")
    diff_cmd.set_defaults(handler=_diff)


def _disown_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--disown",
        action="append",
        metavar="PARTITION@OFFSET",
        help="leave out a record of the event topic shown not to be the worker's (repeatable; "
        "see 'After an integrity alert' in schemas/README.md)",
    )


def _add_engines(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    simulate_cmd = sub.add_parser("simulate", help="publish a seeded simulated arena run (the worker decides it)")
    _cluster_flags(simulate_cmd)
    _simulation_flags(simulate_cmd)
    simulate_cmd.set_defaults(handler=_simulate)

    fills = sub.add_parser("publish-fills", help="publish trading fills (JSON lines) as RecordPnL commands")
    fills.add_argument("file", help="a JSON-lines file of fills, or - for stdin (format: see README)")
    _cluster_flags(fills)
    fills.set_defaults(handler=_publish_fills)

    run = sub.add_parser("run", help="the main job: a simulated 30-day arena through the pipeline, audit, report")
    _cluster_flags(run)
    _simulation_flags(run)
    run.add_argument("--report-dir", default="reports", help="where run-<time>/ and latest/ go (default: reports)")
    run.add_argument(
        "--external-workers",
        action="store_true",
        help="start no worker: use the group's workers already running (docker-compose.yml, a deployment)",
    )
    run.set_defaults(handler=_run)


def _simulation_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--days", type=int, default=30, help="simulated days (default 30)")
    parser.add_argument("--agents", type=int, default=64, help="agents per arena (default 64)")
    parser.add_argument("--arenas", type=int, default=4, help="arenas, spread over the partitions (default 4)")
    parser.add_argument("--seed", type=int, default=7, help="the same seed gives the same run (default 7)")
    parser.add_argument("--evolution-every", type=int, default=5, help="days between evolution cycles (default 5)")


def _cluster_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap", help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP_SERVERS or local broker)"
    )
    parser.add_argument("--partitions", type=int, help="partitions per topic (default: $ARENA_PARTITIONS or 4)")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except BrokerError as exc:
        print(f"arena: {exc.one_line()}", file=sys.stderr)
        return 2
    except (TopicLayoutError, TopicReadError, TopicsNotServed, ValueError) as exc:
        print(f"arena: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
