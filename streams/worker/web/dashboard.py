"""`/`: the live dashboard, one self-contained page (no CDN, no external file: it works offline).

The page (dashboard.html, next to this module) is plain HTML, CSS and JavaScript with inline SVG
charts. It holds no data: every two seconds it asks this worker's JSON endpoints (`/ready`, `/arenas`,
`/arenas/{id}`, and every five seconds `/timeline` and `/recent`), so what it shows is what any
client of the API reads.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

_PAGE = resources.files(__package__).joinpath("dashboard.html")


class Dashboard:
    def __init__(self) -> None:
        self._html = _PAGE.read_bytes()

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/", self.page)]

    async def page(self, _request: web.Request) -> web.Response:
        return web.Response(
            body=self._html,
            content_type="text/html",
            charset="utf-8",
            headers={
                # Nothing from elsewhere: the page's own script and styles, and requests to this worker only.
                "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
                "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; "
                "form-action 'none'; frame-ancestors 'none'",
                "Cache-Control": "no-store",
            },
        )
