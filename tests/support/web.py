"""Asking a worker's web endpoints from a test: a free port, a GET that returns status and JSON, waits."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(base_url: str, path: str, *, token: str | None = None, timeout_s: float = 15.0) -> tuple[int, Any]:
    """(status, decoded JSON body) of a GET; the body of an error answer too."""
    status, body, _type = get_raw(base_url, path, token=token, timeout_s=timeout_s)
    return status, json.loads(body)


def get_raw(
    base_url: str, path: str, *, token: str | None = None, timeout_s: float = 15.0, method: str = "GET"
) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(base_url + path, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("Content-Type", "")


def wait_for(what: str, check: Callable[[], bool], *, timeout_s: float = 120.0, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, ValueError):
            pass  # not answering yet
        time.sleep(poll_s)
    raise AssertionError(f"{what}: not within {timeout_s:.0f}s")


def ready(base_url: str, token: str | None = None) -> bool:
    return get(base_url, "/ready", token=token, timeout_s=5)[0] == 200
