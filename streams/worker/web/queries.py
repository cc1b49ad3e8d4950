"""`/arenas`, `/arenas/{id}`, `/arenas/{id}/agents` and `/arenas/{id}/agents/{agent}`.

Each answer about an arena comes from the worker that serves its partition (streams/worker/web/local.py):
this one, or the owner it is forwarded to (streams/worker/web/routing.py). `/arenas` gathers every
worker's part. The answers are built by the pure core (streams/domain/breakdown.py) and their shapes
are the wire contract's (schemas/queries.py).
"""

from __future__ import annotations

import re
from typing import cast, get_args

from aiohttp import web
from pydantic import BaseModel

from schemas.fields import ARENA_ID_PATTERN, TIERS, Tier
from schemas.queries import (
    AgentAnswer,
    AgentList,
    AgentStatus,
    ArenaList,
    ArenaSummary,
)
from streams.domain import ArenaState
from streams.domain.breakdown import agent_detail, agents_of, breakdown_of, summary_of
from streams.worker.web.errors import JSON, ApiError, bad_query, unavailable
from streams.worker.web.local import LocalTables, valid_arena_id
from streams.worker.web.routing import ROUTED_HEADER, Forwarded, Peers

_AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_STATUSES: tuple[str, ...] = get_args(AgentStatus)
MAX_AGENTS_LISTED = 10_000


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(body=model.model_dump_json().encode(), status=status, content_type=JSON)


class Queries:
    def __init__(self, local: LocalTables, peers: Peers) -> None:
        self.local = local
        self.peers = peers

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/arenas", self.arenas),
            web.get("/arenas/{arena_id}", self.arena),
            web.get("/arenas/{arena_id}/agents", self.agents),
            web.get("/arenas/{arena_id}/agents/{agent_id}", self.agent),
        ]

    # ---- the list, gathered from every worker ----------------------------------------------------

    async def arenas(self, request: web.Request) -> web.Response:
        _only(request, set())
        serving = self.local.serving()
        mine = [
            summary_of(state, self.local.served_by(self.local.partition_of(state.arena_id)))
            for state in self.local.arenas(serving)
        ]
        if ROUTED_HEADER in request.headers:
            return json_response(_listing(mine, set(serving), self.local.partitions))
        summaries = {s.arena_id: s for s in mine}
        covered = set(serving)
        for _url, answer in (await self.peers.gather("/arenas")).items():
            if not isinstance(answer, Forwarded) or answer.status != 200:
                continue  # its partitions are reported missing
            part = ArenaList.model_validate_json(answer.body)
            covered.update(part.partitions)
            for summary in part.arenas:
                known = summaries.get(summary.arena_id)
                # During a move two workers may both list an arena; the later seq is the newer truth.
                if known is None or summary.seq > known.seq:
                    summaries[summary.arena_id] = summary
        return json_response(_listing(list(summaries.values()), covered, self.local.partitions))

    # ---- one arena, from the worker that serves it -----------------------------------------------

    async def arena(self, request: web.Request) -> web.Response:
        _only(request, set())
        served = await self._served(request)
        if isinstance(served, web.Response):
            return served
        state, partition = served, self.local.partition_of(served.arena_id)
        return json_response(breakdown_of(state, self.local.served_by(partition), self.local.book(state.arena_id)))

    async def agents(self, request: web.Request) -> web.Response:
        _only(request, {"tier", "status", "limit"})
        tier = _choice(request, "tier", TIERS)
        status = _choice(request, "status", _STATUSES)
        limit = _limit(request)
        served = await self._served(request)
        if isinstance(served, web.Response):
            return served
        state, partition = served, self.local.partition_of(served.arena_id)
        total, shown = agents_of(
            state, tier=cast(Tier | None, tier), status=cast(AgentStatus | None, status), limit=limit
        )
        return json_response(
            AgentList(
                arena_id=state.arena_id,
                seq=state.last_seq,
                served_by=self.local.served_by(partition),
                tier=cast(Tier | None, tier),
                status=cast(AgentStatus | None, status),
                total=total,
                agents=shown,
            )
        )

    async def agent(self, request: web.Request) -> web.Response:
        _only(request, set())
        agent_id = request.match_info["agent_id"]
        if _AGENT_ID.fullmatch(agent_id) is None:
            raise bad_query(f"{agent_id!r} is not an agent id (pattern {_AGENT_ID.pattern})")
        served = await self._served(request)
        if isinstance(served, web.Response):
            return served
        state, partition = served, self.local.partition_of(served.arena_id)
        detail = agent_detail(state, agent_id)
        if detail is None:
            raise ApiError(404, "AGENT_NOT_FOUND", f"arena {state.arena_id} has no agent {agent_id!r}")
        return json_response(
            AgentAnswer(
                arena_id=state.arena_id, seq=state.last_seq, served_by=self.local.served_by(partition), agent=detail
            )
        )

    async def _served(self, request: web.Request) -> ArenaState | web.Response:
        """The arena's state when this worker serves its partition; else the owner's whole answer."""
        arena_id = request.match_info["arena_id"]
        if not valid_arena_id(arena_id):
            raise bad_query(f"{arena_id!r} is not an arena id (pattern {ARENA_ID_PATTERN})")
        partition = self.local.partition_of(arena_id)
        if partition in self.local.serving():
            state = self.local.state(arena_id)
            if state is None:
                raise ApiError(404, "ARENA_NOT_FOUND", f"no arena {arena_id!r}: it has no event")
            return state
        owner = self.peers.owner(partition)
        if ROUTED_HEADER in request.headers or owner is None or owner == self.peers.url:
            why = "being recovered or handed over" if owner in {None, self.peers.url} else "moving to another worker"
            raise unavailable(f"partition {partition} (arena {arena_id}) is {why}; retry")
        answer = await self.peers.forward(owner, request.path_qs)
        return web.Response(
            body=answer.body, status=answer.status, content_type=answer.content_type, headers=answer.headers
        )


def _listing(summaries: list[ArenaSummary], covered: set[int], partitions: int) -> ArenaList:
    missing = sorted(set(range(partitions)) - covered)
    return ArenaList(
        arenas=sorted(summaries, key=lambda s: s.arena_id),
        partitions=sorted(covered),
        missing_partitions=missing,
        complete=not missing,
    )


def _only(request: web.Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        accepted = ", ".join(sorted(allowed)) or "none"
        raise bad_query(f"unknown query parameter {unknown[0]!r} (accepted: {accepted})")


def _choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str | None:
    value = request.query.get(name)
    if value is None:
        return None
    if value not in choices:
        raise bad_query(f"{name}={value!r} is not one of {', '.join(choices)}")
    return value


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return MAX_AGENTS_LISTED
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_AGENTS_LISTED:
        raise bad_query(f"limit={raw!r} must be a whole number from 1 to {MAX_AGENTS_LISTED}")
    return int(raw)
