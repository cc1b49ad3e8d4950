"""Asking a worker's endpoints from a script or `arena query`: the standard library only.

A worker that does not answer, or answers with an error, raises `QueryError` with the worker's own
message (its JSON error), so the command line can print one line and exit non-zero.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from streams.kafka.settings import WorkerSettings


class QueryError(RuntimeError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def worker_url(options: WorkerSettings) -> str | None:
    """This machine's worker, as the settings describe it; None when no web port is configured."""
    if options.web_port is None and options.web_url is None:
        return None
    return options.advertised_web_url()


def get_json(base_url: str, path: str, *, token: str | None = None, timeout_s: float = 10.0) -> Any:  # noqa: ANN401 - JSON
    request = urllib.request.Request(base_url.rstrip("/") + path, headers={"Accept": "application/json"})  # noqa: S310 - http(s) URL of a worker
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read())["error"]["message"]
        except (ValueError, KeyError, TypeError):
            detail = exc.reason
        raise QueryError(f"{base_url}{path}: {exc.code} {detail}", exc.code) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise QueryError(f"no worker answers at {base_url} ({reason})") from None
