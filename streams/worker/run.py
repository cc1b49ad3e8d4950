"""`arena worker`: the topics first, then the Faust worker, then an exit code a supervisor can act on.

Order matters. Every topic the worker reads or writes, its table changelogs included, is created and
servable before the worker joins its consumer group, so the group's first assignment is complete and
the worker never rebalances itself when a topic appears later (issue 12). While it runs, the stall
watchdog (streams/worker/stall_watchdog.py) ends a worker that has work waiting and makes no progress, and
every stop — a signal, a crash, a stall — is bounded by the exit grace period (streams/eos/fatal_exit.py).

Exit codes: 0 after a clean stop; 70 after a crash; 71 when a stop did not finish in time; 75 after a
stall; 2 when the worker could not start (no cluster, a topic layout that does not match).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterable
from typing import Any

import faust
from faust.worker import Worker as FaustWorker
from mode import ServiceT

from streams.eos.fatal_exit import ExitCode, FatalExit
from streams.kafka.group_offsets import carry_over
from streams.kafka.settings import Settings, WorkerSettings
from streams.kafka.topics import create_topics, wait_until_served, worker_topic_layout
from streams.worker.app import build_worker
from streams.worker.stall_watchdog import CommittedRecordsWaiting, StallWatchdog

log = logging.getLogger(__name__)


class Worker(FaustWorker):
    """Faust's worker whose every stop is bounded, whose crash is a fatal exit, and which runs more than one
    app (the command and ledger roles) as apps, not as plain services.

    Faust's worker treats its first app as the app: it marks it as running in a worker (without which
    `app.in_transaction` is False and exactly-once is silently off) and attaches it to the worker's
    beacon (through which a crash reaches the worker). The other apps get the same here.

    Named Worker like Faust's: its log says "[^Worker]: Ready", which supervisors and tests wait for.
    """

    def __init__(
        self,
        app: faust.App,
        *others: faust.App,
        exit_policy: FatalExit,
        fail: Any,  # noqa: ANN401 - ProcessingGate.fail
        started: Callable[[], None] = lambda: None,
        **kwargs: Any,  # noqa: ANN401 - Faust's worker options
    ) -> None:
        super().__init__(app, *others, **kwargs)
        self._others = others
        self._exit_policy = exit_policy
        self._fail = fail
        self._on_ready = started

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        self._on_ready()  # /ready may say 200 from now on (streams/worker/web/readiness.py)

    async def on_start(self) -> None:
        for other in self._others:
            other.in_worker = True
        await super().on_start()

    def on_init_dependencies(self) -> Iterable[ServiceT]:
        dependencies = list(super().on_init_dependencies())
        for other in self._others:
            other.beacon.reattach(self.beacon)
        return dependencies

    async def stop(self) -> None:
        if self.crash_reason is not None:
            self._fail(f"the worker crashed: {self.crash_reason!r}")
        else:
            self._exit_policy.stopping()
        await super().stop()


def run_worker(settings: Settings, *, loglevel: str = "info") -> int:
    """Run a worker (its role's apps) until it stops; returns the process exit code."""
    options = settings.worker
    check_web_port(options)
    layout = worker_topic_layout(settings, options.app_id)
    created = create_topics(settings, layout)
    waited = wait_until_served(settings, [spec.name for spec in layout], partitions=settings.partitions)
    if created:
        log.info("created %d topic(s) (%s); served after %.2fs", len(created), ", ".join(created), waited)
    if options.role in {"all", "ledger"}:
        carried = carry_over(
            settings, topic=settings.topics.events, from_group=options.app_id, to_group=options.ledger_app_id
        )
        if carried:
            log.info(
                "the ledger group %s starts where %s had got to: %s", options.ledger_app_id, options.app_id, carried
            )
    worker = build_worker(settings)
    gates = [role.exactly_once.gate for role in worker.roles]
    watchdogs = [
        StallWatchdog(
            role.exactly_once.gate,
            role.app.loop,
            CommittedRecordsWaiting(settings, role.app.conf.id),
            stall_s=options.stall_timeout_s,
            source_topics=frozenset({role.source_topic}),
        )
        for role in worker.roles
    ]
    first, *others = worker.apps
    web = worker.web
    faust_worker = Worker(
        first,
        *others,
        loglevel=loglevel,
        exit_policy=gates[0].exit,
        fail=gates[0].fail,
        started=web.readiness.started if web is not None else lambda: None,
    )
    for watchdog in watchdogs:
        watchdog.start()
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:  # pragma: no cover - execute_from_commandline always raises SystemExit
        code = 0
    finally:
        for watchdog in watchdogs:
            watchdog.stop()
    if gates[0].exit.code is not None:
        return int(gates[0].exit.code)
    if faust_worker.crash_reason is not None or code != 0:
        log.critical("worker exiting with code %d: %r", ExitCode.CRASHED, faust_worker.crash_reason)
        return int(ExitCode.CRASHED)
    return 0


def check_web_port(options: WorkerSettings) -> None:
    """A web configuration that must not start, or a port already taken, is a start-up error (exit code 2)."""
    if options.web_port is None:
        return
    problem = options.web_exposure_problem()
    if problem is not None:
        raise ValueError(problem)
    family = socket.AF_INET6 if ":" in options.web_bind else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((options.web_bind, options.web_port))
        except OSError as exc:
            raise ValueError(
                f"ARENA_WEB_PORT {options.web_port} on {options.web_bind} cannot be served ({exc.strerror}): "
                "each worker on a machine needs a port of its own"
            ) from None
