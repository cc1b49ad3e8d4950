"""`/health` (the process answers) and `/ready` (the worker is doing its job), for Docker and Kubernetes.

Ready means every one of these holds, and `/ready` names each one that does not:

- the worker has finished starting (Faust's "[^Worker]: Ready") and is not stopping or failing
  (a fatal exit under way: streams/eos/fatal_exit.py);
- and for each role it runs (commands, ledger: streams/worker/web/served.py):
  - its agent is running;
  - no rebalance of its group is under way (between a revocation and the next assignment no
    transaction is open);
  - partitions of its source topic are assigned to it;
  - the tables of every assigned partition are recovered: loaded from the committed changelog, or kept
    through the rebalance because they were committed (streams/eos/ownership.py).

A role's reasons start with its name ("ledger: recovering the tables of partitions 1, 3"). A worker of
a group with more workers than partitions has nothing assigned and is not ready: it processes nothing
until another one leaves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from aiohttp import web

from schemas.queries import Health, Readiness
from streams.worker.web.queries import json_response
from streams.worker.web.served import Served


class ReadinessCheck:
    def __init__(self, roles: Sequence[Served], *, url: str) -> None:
        if not roles:
            raise ValueError("a worker runs at least one role")
        self._roles = list(roles)
        self._app_id = roles[0].app.conf.id
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
                app_id=self._app_id,
                pid=os.getpid(),
                uptime_s=int(time.monotonic() - self._began),
            )
        )

    async def ready(self, _request: web.Request) -> web.Response:
        answer = self.check()
        return json_response(answer, status=200 if answer.ready else 503)

    def check(self) -> Readiness:
        reasons: list[str] = []
        failing = next((role.gate for role in self._roles if role.gate.exit.code is not None or role.gate.taint), None)
        if failing is not None:
            reasons.append(f"failing: {failing.exit.reason or repr(failing.taint)}; the process is exiting")
        elif any(role.app.should_stop for role in self._roles):
            reasons.append("stopping")
        elif not self.startup_finished:
            reasons.append("starting: the worker has not finished starting")
        held: dict[str, tuple[list[int], list[int]]] = {}
        for role in self._roles:
            assigned, recovered = self._role(role, reasons)
            held[role.name] = (assigned, recovered)
        commands, ledger = held.get("commands", ([], [])), held.get("ledger", ([], []))
        return Readiness(
            ready=not reasons,
            reasons=reasons,
            roles=[role.name for role in self._roles],
            assigned_partitions=commands[0],
            recovered_partitions=commands[1],
            ledger_partitions=ledger[0],
            ledger_recovered_partitions=ledger[1],
            worker=self._url,
        )

    @staticmethod
    def _role(role: Served, reasons: list[str]) -> tuple[list[int], list[int]]:
        gate, app, name = role.gate, role.app, role.name
        stopped = sorted(agent for agent, state in app.agents.items() if not state.started or state.crashed)
        if stopped:
            reasons.append(f"{name}: agents not running: {', '.join(stopped)}")
        if gate.transactions_open is None:
            reasons.append(f"{name}: waiting for the first partition assignment")
        elif gate.transactions_open is False:
            reasons.append(f"{name}: rebalancing: partitions are changing hands")
        assigned = role.assigned()
        recovered = [p for p in assigned if gate.ownership.continues(p)]
        if gate.transactions_open is not None and not assigned:
            reasons.append(f"{name}: no partitions assigned (more workers than partitions?)")
        pending = sorted(set(assigned) - set(recovered))
        if pending:
            reasons.append(f"{name}: recovering the tables of partitions {', '.join(map(str, pending))}")
        return assigned, recovered
