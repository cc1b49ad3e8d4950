"""`/timeline`: commands processed and lag over the last minutes, every worker of the group added up.

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
    """What happened between consecutive samples (a gap, such as a restart, starts the series again)."""
    found = []
    for before, after in itertools.pairwise(samples):
        span = after.at - before.at
        if span <= 0 or span > 2.5 * period_s or after.commands < before.commands:
            continue
        found.append(
            TimelinePoint(
                at_ms=round(after.at * 1000),
                span_ms=round(span * 1000),
                commands=after.commands - before.commands,
                events_checked=after.events_checked - before.events_checked,
                lag=after.lag,
            )
        )
    return found


def added_up(series: list[list[TimelinePoint]]) -> list[TimelinePoint]:
    by_time: dict[int, list[TimelinePoint]] = defaultdict(list)
    for one in series:
        for point in one:
            by_time[point.at_ms].append(point)
    return [
        TimelinePoint(
            at_ms=at,
            span_ms=max(p.span_ms for p in found),
            commands=sum(p.commands for p in found),
            events_checked=sum(p.events_checked for p in found),
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
        period_ms = round(period * 1000)
        if ROUTED_HEADER in request.headers:
            return json_response(Timeline(period_ms=period_ms, points=mine, workers=1))
        series = [mine]
        for answer in (await self._peers.gather("/timeline")).values():
            if isinstance(answer, Forwarded) and answer.status == 200:
                series.append(Timeline.model_validate_json(answer.body).points)
        return json_response(Timeline(period_ms=period_ms, points=added_up(series), workers=len(series)))
