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
from collections.abc import Callable
from typing import Any

from faust.worker import Worker as FaustWorker

from streams.eos.fatal_exit import ExitCode, FatalExit
from streams.kafka.settings import Settings, WorkerSettings
from streams.kafka.topics import create_topics, wait_until_served, worker_topic_layout
from streams.worker.app import build_worker
from streams.worker.stall_watchdog import CommittedRecordsWaiting, StallWatchdog

log = logging.getLogger(__name__)


class Worker(FaustWorker):
    """Faust's worker whose every stop is bounded, and whose crash is a fatal exit.

    Named Worker like Faust's: its log says "[^Worker]: Ready", which supervisors and tests wait for.
    """

    def __init__(
        self,
        *args: Any,  # noqa: ANN401
        exit_policy: FatalExit,
        fail: Any,  # noqa: ANN401
        started: Callable[[], None] = lambda: None,
        **kwargs: Any,  # noqa: ANN401
    ) -> None:
        super().__init__(*args, **kwargs)
        self._exit_policy = exit_policy
        self._fail = fail
        self._on_ready = started

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        self._on_ready()  # /ready may say 200 from now on (streams/worker/web/readiness.py)

    async def stop(self) -> None:
        if self.crash_reason is not None:
            self._fail(f"the worker crashed: {self.crash_reason!r}")
        else:
            self._exit_policy.stopping()
        await super().stop()


def run_worker(settings: Settings, *, loglevel: str = "info") -> int:
    """Run a worker until it stops; returns the process exit code."""
    options = settings.worker
    check_web_port(options)
    layout = worker_topic_layout(settings, options.app_id)
    created = create_topics(settings, layout)
    waited = wait_until_served(settings, [spec.name for spec in layout], partitions=settings.partitions)
    if created:
        log.info("created %d topic(s) (%s); served after %.2fs", len(created), ", ".join(created), waited)
    worker = build_worker(settings)
    gate = worker.exactly_once.gate
    topics = settings.topics
    watchdog = StallWatchdog(
        gate,
        worker.app.loop,
        CommittedRecordsWaiting(settings, options.app_id),
        stall_s=options.stall_timeout_s,
        source_topics=frozenset({topics.commands, topics.events}),
    )
    web = worker.web
    faust_worker = Worker(
        worker.app,
        loglevel=loglevel,
        exit_policy=gate.exit,
        fail=gate.fail,
        started=web.readiness.started if web is not None else lambda: None,
    )
    watchdog.start()
    try:
        faust_worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:  # pragma: no cover - execute_from_commandline always raises SystemExit
        code = 0
    finally:
        watchdog.stop()
    if gate.exit.code is not None:
        return int(gate.exit.code)
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
