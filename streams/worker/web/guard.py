"""The token check: on every request when a token is configured, in constant time, never logged.

A token is required on any non-loopback bind (the worker will not start without one) and optional on
loopback. Programs send ``Authorization: Bearer <token>``; Prometheus and Kubernetes probes can send
that header too. A browser cannot add a header to a page it navigates to, so the dashboard is opened
once as ``/?token=<token>``: the answer sets an HttpOnly, same-site cookie holding a value derived from
the token (not the token itself) and redirects to ``/``, which takes the token out of the address bar.
The page's own requests then carry the cookie.

Nothing here logs a request, a header or a query string; the server runs without an access log.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from streams.worker.web.errors import ApiError

COOKIE = "arena_session"
_BEARER = "Bearer "


class TokenGuard:
    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None
        self._cookie = hmac.new(self._token, b"arena-dashboard", hashlib.sha256).hexdigest() if self._token else None

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def authorization(self) -> dict[str, str]:
        """The header a request to another worker carries (the workers of a group share the token)."""
        return {"Authorization": _BEARER + self._token.decode()} if self._token is not None else {}

    def admits(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        header = request.headers.get("Authorization", "")
        if header.startswith(_BEARER) and hmac.compare_digest(header[len(_BEARER) :].encode(), self._token):
            return True
        cookie = request.cookies.get(COOKIE)
        return (
            cookie is not None
            and self._cookie is not None
            and hmac.compare_digest(cookie.encode(), self._cookie.encode())
        )

    def login(self, request: web.Request) -> None:
        """`/?token=...` with the right token raises the redirect to `/` that sets the cookie; anything
        else than a login returns."""
        offered = request.query.get("token")
        if self._token is None or offered is None or request.path != "/":
            return
        if not hmac.compare_digest(offered.encode(), self._token):
            raise unauthorized()
        redirect = web.HTTPSeeOther("/")
        assert self._cookie is not None
        redirect.set_cookie(COOKIE, self._cookie, httponly=True, samesite="Strict", path="/")
        raise redirect


def unauthorized() -> ApiError:
    return ApiError(
        401,
        "UNAUTHORIZED",
        "this worker requires its token: send 'Authorization: Bearer <ARENA_WEB_TOKEN>' "
        "(the dashboard: open /?token=<ARENA_WEB_TOKEN> once)",
    )
