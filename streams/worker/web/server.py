"""The worker's web server: an aiohttp application run as a service of the Faust app.

It is added to the app before the app starts, so it is up before the consumer joins its group and
answers while the tables recover (`/ready` says 503 until then). Handlers run on the worker's event
loop, between units of the processing gate; each is short (a table read, a JSON encoding, or a request
to another worker, awaited without holding anything), so queries neither block the loop for long nor
take the gate.

Two middlewares wrap every handler: the token guard (streams/worker/web/guard.py), and the translation
of every failure into a JSON error (schemas/queries.py `ErrorAnswer`): a bad query is a 400, an unknown
arena a 404, a method other than GET or HEAD a 405, a partition on the move a 503 with Retry-After, and
anything unexpected a 500 whose details go to the worker's log, never to the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from mode import Service

from streams.worker.web.errors import ApiError, error_response
from streams.worker.web.guard import TokenGuard, unauthorized

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def new_application(routes: list[web.RouteDef], guard: TokenGuard) -> web.Application:
    @web.middleware
    async def as_json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(error)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise  # redirects
            return error_response(_from_http(exc))
        except Exception:
            # The path only: a query string could carry a token.
            log.exception("web: %s %s failed", request.method, request.path)
            return error_response(ApiError(500, "INTERNAL", "the worker could not answer; its log says why"))

    @web.middleware
    async def guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
        guard.login(request)  # a login raises its redirect
        if not guard.admits(request):
            raise unauthorized()
        return await handler(request)

    application = web.Application(middlewares=[as_json_errors, guarded], client_max_size=1024)
    application.add_routes(routes)
    return application


def _from_http(exc: web.HTTPException) -> ApiError:
    if exc.status == 404:
        return ApiError(404, "NOT_FOUND", "no such endpoint: see the README's 'Queries over HTTP'")
    if exc.status == 405:
        return ApiError(405, "METHOD_NOT_ALLOWED", "the endpoints are read-only: GET (or HEAD) only")
    return ApiError(exc.status, "BAD_QUERY" if exc.status < 500 else "INTERNAL", exc.reason)


class WebServer(Service):
    """Serves the application on host:port from the worker's start to its end."""

    def __init__(
        self,
        application: web.Application,
        *,
        host: str,
        port: int,
        starting: Callable[[], None] | None = None,
        stopping: Callable[[], Awaitable[None]] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(loop=loop)
        self._application = application
        self._host = host
        self._port = port
        self._starting = starting
        self._stopping = stopping
        self._runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        # No access log: requests carry tokens, and the worker's log is for the pipeline.
        self._runner = web.AppRunner(self._application, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port, reuse_address=True)
        await site.start()
        self.log.info("web endpoints on http://%s:%d", self._host, self._port)
        if self._starting is not None:
            self._starting()

    async def on_stop(self) -> None:
        if self._stopping is not None:
            await self._stopping()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
