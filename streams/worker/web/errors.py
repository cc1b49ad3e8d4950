"""Every error the endpoints give is a JSON answer with a code a program can act on; never a traceback."""

from __future__ import annotations

from aiohttp import web

from schemas.queries import ErrorAnswer, ErrorDetail

JSON = "application/json"


class ApiError(Exception):
    """An answer that is not the one asked for: raised by a handler, turned into JSON by the server."""

    def __init__(self, status: int, code: str, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


def bad_query(message: str) -> ApiError:
    return ApiError(400, "BAD_QUERY", message)


def unavailable(message: str, *, retry_after_s: int = 1) -> ApiError:
    """A moment's unavailability (a partition moving or recovering, a worker not answering): retry."""
    return ApiError(503, "UNAVAILABLE", message, retry_after_s=retry_after_s)


def error_response(error: ApiError) -> web.Response:
    body = ErrorAnswer(error=ErrorDetail(status=error.status, code=error.code, message=error.message))
    headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s is not None else None
    return web.Response(body=body.model_dump_json().encode(), status=error.status, content_type=JSON, headers=headers)
