"""`serve_web(...)`: the worker's web endpoints, assembled and served once per process.

Called by streams/worker/app.py when `ARENA_WEB_PORT` is set, with the roles the process runs
(streams/worker/web/served.py). It also makes the worker's metrics the observer of each role's
exactly-once layer (streams/eos/observer.py); without the web endpoints that observer stays the no-op one.

What a worker serves follows its roles: health, readiness, metrics, the timeline and the recent alerts
always; arena queries and the dashboard's arena views where it runs the command processor (queries
are routed by the command group's assignment). An arena's breakdown carries the ledger's view when
this worker's ledger role serves that arena's partition of the event topic.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from aiohttp import web
from faust.types import TP

from streams.domain.book import ArenaBook
from streams.kafka.partitioning import partition_for
from streams.kafka.settings import Settings
from streams.processors.ledger_processor import LedgerProcessor
from streams.worker.web.dashboard import Dashboard
from streams.worker.web.guard import TokenGuard
from streams.worker.web.local import LocalTables
from streams.worker.web.metrics import CONTENT_TYPE, WorkerMetrics
from streams.worker.web.queries import Queries
from streams.worker.web.readiness import ReadinessCheck
from streams.worker.web.recent import RecentView
from streams.worker.web.routing import Peers
from streams.worker.web.sampler import Counts, LagWatch, Sampler
from streams.worker.web.served import Served, commands_of, ledger_of
from streams.worker.web.server import WebServer, new_application
from streams.worker.web.timeline import TimelineView


@dataclass(frozen=True)
class WebEndpoints:
    url: str
    readiness: ReadinessCheck
    metrics: WorkerMetrics
    sampler: Sampler
    server: WebServer


def serve_web(settings: Settings, roles: Sequence[Served]) -> WebEndpoints:
    options = settings.worker
    if options.web_port is None:
        raise ValueError("serve_web needs ARENA_WEB_PORT")
    problem = options.web_exposure_problem()
    if problem is not None:
        raise ValueError(problem)
    host = roles[0]  # the command role when the process runs one (streams/worker/app.py builds it first)
    app = host.app
    url = str(app.conf.canonical_url).rstrip("/")
    guard = TokenGuard(options.web_token)
    commands, ledger = commands_of(list(roles)), ledger_of(list(roles))

    readiness = ReadinessCheck(roles, url=url)
    sampler = Sampler(
        settings,
        [LagWatch(role.app.conf.id, role.source_topic, _assigned_of(role)) for role in roles],
        counts=lambda: Counts(
            commands=commands[1].counters.commands if commands else 0,
            events_checked=ledger[1].counters.events if ledger else 0,
        ),
    )
    metrics = WorkerMetrics(
        commands[1].counters if commands else None,
        ledger[1].counters if ledger else None,
        processors={role.source_topic: "command" if role.name == "commands" else "ledger" for role in roles},
        readiness=readiness.check,
        lag=sampler.lag,
    )
    for role in roles:
        role.gate.observer = metrics
    # Peers of the host's group: the command group's members answer for arenas; a ledger-only worker's
    # peers are the other ledger workers (for the timeline).
    peers = Peers(app, url=url, commands_topic=host.source_topic, authorization=guard.authorization())

    async def exposition(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    routes = [
        *Dashboard().routes(),
        *readiness.routes(),
        web.get("/metrics", exposition),
        *TimelineView(sampler, peers).routes(),
        *RecentView(settings).routes(),
    ]
    if commands is not None:
        role, processor = commands
        local = LocalTables(
            role.app,
            role.gate,
            processor.store,
            _book_of(settings, ledger),
            commands_topic=role.source_topic,
            partitions=settings.partitions,
            url=url,
        )
        routes.extend(Queries(local, peers).routes())

    async def stopping() -> None:
        sampler.stop()
        await peers.close()

    server = WebServer(
        new_application(routes, guard),
        host=options.web_bind,
        port=options.web_port,
        starting=sampler.start,
        stopping=stopping,
        loop=app.loop,
    )
    # A dependency added before the app starts is started before Faust's own (consumer, agents, tables):
    # the endpoints answer, with /ready at 503, while the worker joins its group and recovers.
    app.add_dependency(server)
    return WebEndpoints(url=url, readiness=readiness, metrics=metrics, sampler=sampler, server=server)


def _assigned_of(role: Served) -> Callable[[], Collection[TP]]:
    return lambda: role.gate.assigned


def _book_of(settings: Settings, ledger: tuple[Served, LedgerProcessor] | None) -> Callable[[str], ArenaBook | None]:
    if ledger is None:
        return lambda _arena: None
    role, processor = ledger
    n = settings.partitions

    def book(arena_id: str) -> ArenaBook | None:
        return processor.store.peek(arena_id) if role.serves(partition_for(arena_id, n)) else None

    return book
