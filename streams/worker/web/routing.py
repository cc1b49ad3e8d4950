"""Any worker answers for any arena: the owner of the arena's partition is found and asked.

Faust's partition assignor puts every member's web URL (``canonical_url``, here ``ARENA_WEB_URL`` or
the bind address and port) in the group's assignment, with the partitions each member holds: after a
rebalance every worker knows who holds which partition of the command topic
(``app.assignor.external_topic_distribution``). Faust's own ``@app.table_route`` would hash the
*serialized* table key with the producer's partitioner; arenas are placed by murmur2 of the arena id
(streams/kafka/partitioning.py), so the partition is computed here and only the owner is taken from
Faust.

A request is forwarded once: the forwarded copy carries ``X-Arena-Routed-By``, and a worker that
receives one for a partition it does not serve answers 503 (the partition is moving; retry) instead of
forwarding it again, so two workers with different views of a rebalance can never bounce a request
between them. Lists (``/arenas``, ``/timeline``) ask every worker for its own part and merge them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from faust.types import AppT

from streams.worker.web.errors import unavailable

ROUTED_HEADER = "X-Arena-Routed-By"
_TIMEOUT = aiohttp.ClientTimeout(total=5.0)


@dataclass(frozen=True, slots=True)
class Forwarded:
    status: int
    body: bytes
    content_type: str
    headers: Mapping[str, str]


class Peers:
    def __init__(self, app: AppT, *, url: str, commands_topic: str, authorization: Mapping[str, str]) -> None:
        self._app = app
        self.url = url
        self._commands = commands_topic
        self._authorization = dict(authorization)
        self._session: aiohttp.ClientSession | None = None

    def owners(self) -> dict[int, str]:
        """Partition number of the command topic -> the URL of the worker holding it (last assignment)."""
        distribution = getattr(self._app.assignor, "external_topic_distribution", {}) or {}
        found: dict[int, str] = {}
        for url, topics in distribution.items():
            for partition in topics.get(self._commands, ()):
                found[int(partition)] = str(url).rstrip("/")
        return found

    def owner(self, partition: int) -> str | None:
        return self.owners().get(partition)

    def others(self) -> list[str]:
        """Every other worker of the group that holds a partition, by URL."""
        return sorted({url for url in self.owners().values() if url != self.url})

    async def forward(self, url: str, path_qs: str) -> Forwarded:
        """GET `path_qs` from the worker at `url`, as this worker; an unreachable worker is a 503."""
        session = self._client()
        headers = {**self._authorization, ROUTED_HEADER: self.url}
        try:
            async with session.get(url + path_qs, headers=headers, allow_redirects=False) as response:
                body = await response.read()
                kept = {name: response.headers[name] for name in ("Retry-After",) if name in response.headers}
                return Forwarded(response.status, body, response.content_type, kept)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise unavailable(f"the worker at {url} does not answer ({type(exc).__name__}); retry") from None

    async def gather(self, path_qs: str) -> dict[str, Forwarded | Exception]:
        """Ask every other worker at once; a failure is kept as the exception, for the caller to report."""
        urls = self.others()
        answers = await asyncio.gather(*(self.forward(url, path_qs) for url in urls), return_exceptions=True)
        return {
            url: answer if isinstance(answer, Forwarded | Exception) else RuntimeError(repr(answer))
            for url, answer in zip(urls, answers, strict=True)
        }

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=_TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
