"""The image's health check (container/healthcheck.py) asks the worker's /ready over loopback, with the token."""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "container" / "healthcheck.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("arena_image_healthcheck", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


healthcheck = _load()


class _Worker(BaseHTTPRequestHandler):
    ready = True
    token = "s3cret"
    seen: list[str | None] = []  # noqa: RUF012 - shared by the handler instances of one test

    def do_GET(self) -> None:
        header = self.headers.get("Authorization")
        type(self).seen.append(header)
        if self.path != "/ready":
            self._answer(404, {})
        elif header != f"Bearer {self.token}":
            self._answer(401, {"error": {"message": "token"}})
        elif self.ready:
            self._answer(200, {"ready": True, "reasons": []})
        else:
            self._answer(503, {"ready": False, "reasons": ["recovering the tables of partitions 1, 3"]})

    def _answer(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        return None


@pytest.fixture
def worker_port() -> Iterator[int]:
    _Worker.ready, _Worker.seen = True, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Worker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("bind", "host"),
    [
        ("0.0.0.0", "127.0.0.1"),
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "127.0.0.1"),
        ("::", "127.0.0.1"),
        ("::1", "[::1]"),
        ("10.1.2.3", "10.1.2.3"),
    ],
)
def test_the_worker_is_asked_where_its_bind_answers(bind: str, host: str) -> None:
    assert healthcheck.ready_url({"ARENA_WEB_PORT": "6066", "ARENA_WEB_BIND": bind}) == f"http://{host}:6066/ready"


def test_without_a_web_port_there_is_nothing_to_ask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ARENA_WEB_PORT", raising=False)
    assert healthcheck.ready_url({}) is None
    assert healthcheck.main() == 1


def test_a_ready_worker_is_healthy_and_the_token_is_sent(monkeypatch: pytest.MonkeyPatch, worker_port: int) -> None:
    monkeypatch.setenv("ARENA_WEB_PORT", str(worker_port))
    monkeypatch.setenv("ARENA_WEB_BIND", "0.0.0.0")
    monkeypatch.setenv("ARENA_WEB_TOKEN", "s3cret")
    assert healthcheck.main() == 0
    assert _Worker.seen == ["Bearer s3cret"]


def test_a_worker_not_ready_or_refusing_the_token_is_unhealthy(
    monkeypatch: pytest.MonkeyPatch, worker_port: int, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ARENA_WEB_PORT", str(worker_port))
    monkeypatch.setenv("ARENA_WEB_TOKEN", "s3cret")
    _Worker.ready = False
    assert healthcheck.main() == 1
    assert "recovering the tables of partitions 1, 3" in capsys.readouterr().err
    monkeypatch.setenv("ARENA_WEB_TOKEN", "wrong")
    assert healthcheck.main() == 1
    assert "s3cret" not in capsys.readouterr().err


def test_no_worker_answering_is_unhealthy(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Worker) as closed:
        port = closed.server_address[1]
    monkeypatch.setenv("ARENA_WEB_PORT", str(port))
    monkeypatch.delenv("ARENA_WEB_TOKEN", raising=False)
    assert healthcheck.main() == 1
    assert "no answer" in capsys.readouterr().err
