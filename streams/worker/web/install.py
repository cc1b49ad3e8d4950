"""`serve_web(...)`: the worker's web endpoints, assembled and attached to its Faust app.

Called by streams/worker/app.py when `ARENA_WEB_PORT` is set. It also makes the worker's metrics the
observer of its exactly-once layer (streams/eos/observer.py); without the web endpoints that observer
stays the no-op one.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from aiohttp import web

from streams.eos.gate import ProcessingGate
from streams.kafka.settings import Settings
from streams.processors.command_processor import CommandProcessor
from streams.processors.ledger_processor import LedgerProcessor
from streams.worker.web.dashboard import Dashboard
from streams.worker.web.guard import TokenGuard
from streams.worker.web.local import LocalTables
from streams.worker.web.metrics import CONTENT_TYPE, WorkerMetrics
from streams.worker.web.queries import Queries
from streams.worker.web.readiness import ReadinessCheck
from streams.worker.web.recent import RecentView
from streams.worker.web.routing import Peers
from streams.worker.web.sampler import Counts, Sampler
from streams.worker.web.server import WebServer, new_application
from streams.worker.web.timeline import TimelineView


@dataclass(frozen=True)
class WebEndpoints:
    url: str
    readiness: ReadinessCheck
    metrics: WorkerMetrics
    sampler: Sampler
    server: WebServer


def serve_web(
    app: faust.App,
    settings: Settings,
    gate: ProcessingGate,
    commands: CommandProcessor,
    ledger: LedgerProcessor,
) -> WebEndpoints:
    options = settings.worker
    if options.web_port is None:
        raise ValueError("serve_web needs ARENA_WEB_PORT")
    problem = options.web_exposure_problem()
    if problem is not None:
        raise ValueError(problem)
    topics = settings.topics
    sources = frozenset({topics.commands, topics.events})
    url = str(app.conf.canonical_url).rstrip("/")
    guard = TokenGuard(options.web_token)

    local = LocalTables(
        app,
        gate,
        commands.store,
        ledger.store,
        commands_topic=topics.commands,
        partitions=settings.partitions,
        url=url,
    )
    peers = Peers(app, url=url, commands_topic=topics.commands, authorization=guard.authorization())
    readiness = ReadinessCheck(app, gate, source_topics=sources, url=url)
    sampler = Sampler(
        settings,
        options.app_id,
        assigned=lambda: gate.assigned,
        counts=lambda: Counts(commands=commands.counters.commands, events_checked=ledger.counters.events),
        source_topics=sources,
    )
    metrics = WorkerMetrics(
        commands.counters,
        ledger.counters,
        processors={topics.commands: "command", topics.events: "ledger"},
        readiness=readiness.check,
        lag=sampler.lag,
    )
    gate.observer = metrics

    async def exposition(_request: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    routes = [
        *Dashboard().routes(),
        *readiness.routes(),
        web.get("/metrics", exposition),
        *Queries(local, peers).routes(),
        *TimelineView(sampler, peers).routes(),
        *RecentView(settings).routes(),
    ]

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
