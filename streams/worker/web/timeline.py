"""`/timeline`: commands per second and lag over the last minutes, every worker of the group added up.

Each worker turns its own samples (streams/worker/web/sampler.py) into rates; the worker asked gathers
the others' points and adds them up per period. The periods line up because every sampler ends its
periods on multiples of the same length of wall-clock time.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

from aiohttp import web

from schemas.queries import Timeline, TimelinePoint
from streams.worker.web.queries import json_response
from streams.worker.web.routing import ROUTED_HEADER, Forwarded, Peers
from streams.worker.web.sampler import Sample, Sampler


def points(samples: list[Sample], period_s: float) -> list[TimelinePoint]:
    """Rates between consecutive samples (a gap, such as a restart, starts the series again)."""
    found = []
    for before, after in itertools.pairwise(samples):
        span = after.at - before.at
        if span <= 0 or span > 2.5 * period_s or after.commands < before.commands:
            continue
        found.append(
            TimelinePoint(
                at=after.at,
                commands_per_s=round((after.commands - before.commands) / span, 3),
                events_checked_per_s=round((after.events_checked - before.events_checked) / span, 3),
                lag=after.lag,
            )
        )
    return found


def added_up(series: list[list[TimelinePoint]]) -> list[TimelinePoint]:
    by_time: dict[float, list[TimelinePoint]] = defaultdict(list)
    for one in series:
        for point in one:
            by_time[point.at].append(point)
    return [
        TimelinePoint(
            at=at,
            commands_per_s=round(sum(p.commands_per_s for p in found), 3),
            events_checked_per_s=round(sum(p.events_checked_per_s for p in found), 3),
            lag=sum(p.lag for p in found),
        )
        for at, found in sorted(by_time.items())
    ]


class TimelineView:
    def __init__(self, sampler: Sampler, peers: Peers) -> None:
        self._sampler = sampler
        self._peers = peers

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/timeline", self.timeline)]

    async def timeline(self, request: web.Request) -> web.Response:
        period = self._sampler.period_s
        mine = points(self._sampler.samples(), period)
        if ROUTED_HEADER in request.headers:
            return json_response(Timeline(period_s=period, points=mine, workers=1))
        series = [mine]
        for answer in (await self._peers.gather("/timeline")).values():
            if isinstance(answer, Forwarded) and answer.status == 200:
                series.append(Timeline.model_validate_json(answer.body).points)
        return json_response(Timeline(period_s=period, points=added_up(series), workers=len(series)))
