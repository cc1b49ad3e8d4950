"""`/health` (the process answers) and `/ready` (the worker is doing its job), for Docker and Kubernetes.

Ready means every one of these holds, and `/ready` names each one that does not:

- the worker has finished starting (Faust's "[^Worker]: Ready") and is not stopping or failing
  (a fatal exit under way: streams/eos/fatal_exit.py);
- both agents (command processor, ledger processor) are running;
- no rebalance is under way (between a revocation and the next assignment no transaction is open);
- partitions of the command and event topics are assigned to it;
- the tables of every assigned partition are recovered: loaded from the committed changelog, or kept
  through the rebalance because they were committed (streams/eos/ownership.py).

A worker of a group with more workers than partitions has nothing assigned and is not ready: it
processes nothing until another one leaves.
"""

from __future__ import annotations

import os
import time

from aiohttp import web
from faust.types import AppT

from schemas.queries import Health, Readiness
from streams.eos.gate import ProcessingGate
from streams.worker.web.queries import json_response


class ReadinessCheck:
    def __init__(self, app: AppT, gate: ProcessingGate, *, source_topics: frozenset[str], url: str) -> None:
        self._app = app
        self._gate = gate
        self._sources = source_topics
        self._url = url
        self._began = time.monotonic()
        self.startup_finished = False  # set by the worker process once Faust says "Ready" (worker/run.py)

    def started(self) -> None:
        """The worker has finished starting (Faust logged "[^Worker]: Ready")."""
        self.startup_finished = True

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/health", self.health), web.get("/ready", self.ready)]

    async def health(self, _request: web.Request) -> web.Response:
        return json_response(
            Health(
                status="up",
                worker=self._url,
                app_id=self._app.conf.id,
                pid=os.getpid(),
                uptime_s=int(time.monotonic() - self._began),
            )
        )

    async def ready(self, _request: web.Request) -> web.Response:
        answer = self.check()
        return json_response(answer, status=200 if answer.ready else 503)

    def check(self) -> Readiness:
        gate, app = self._gate, self._app
        reasons: list[str] = []
        if gate.exit.code is not None or gate.taint is not None:
            reasons.append(f"failing: {gate.exit.reason or repr(gate.taint)}; the process is exiting")
        elif app.should_stop:
            reasons.append("stopping")
        elif not self.startup_finished:
            reasons.append("starting: the worker has not finished starting")
        stopped = sorted(name for name, agent in app.agents.items() if not agent.started or agent.crashed)
        if stopped:
            reasons.append(f"agents not running: {', '.join(stopped)}")
        if gate.transactions_open is None:
            reasons.append("waiting for the first partition assignment")
        elif gate.transactions_open is False:
            reasons.append("rebalancing: partitions are changing hands")
        assigned = sorted({tp.partition for tp in gate.assigned if tp.topic in self._sources})
        recovered = [p for p in assigned if gate.ownership.continues(p)]
        if gate.transactions_open is not None and not assigned:
            reasons.append("no partitions assigned (more workers than partitions?)")
        pending = sorted(set(assigned) - set(recovered))
        if pending:
            reasons.append(f"recovering the tables of partitions {', '.join(map(str, pending))}")
        return Readiness(
            ready=not reasons,
            reasons=reasons,
            assigned_partitions=assigned,
            recovered_partitions=recovered,
            worker=self._url,
        )
