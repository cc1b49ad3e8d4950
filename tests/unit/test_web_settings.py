"""The web endpoints' settings: loopback unless asked, a token required beyond it, and kept out of sight."""

from __future__ import annotations

import socket

import pytest

from streams.kafka.settings import Settings, WorkerSettings

TOKEN = "tok-Never-Print-9d2e"


def test_the_endpoints_listen_on_loopback_unless_told_otherwise() -> None:
    options = Settings.from_env({"ARENA_WEB_PORT": "8080"}).worker
    assert (options.web_bind, options.web_port, options.web_token) == ("127.0.0.1", 8080, None)
    assert options.web_loopback and options.web_exposure_problem() is None
    assert options.advertised_web_url() == "http://127.0.0.1:8080"


@pytest.mark.parametrize("bind", ["0.0.0.0", "::", "10.1.2.3", "worker.example"])
def test_a_non_loopback_bind_without_a_token_is_refused(bind: str) -> None:
    exposed = Settings.from_env({"ARENA_WEB_PORT": "8080", "ARENA_WEB_BIND": bind}).worker
    problem = exposed.web_exposure_problem()
    assert problem is not None and "ARENA_WEB_TOKEN" in problem
    with_token = Settings.from_env({"ARENA_WEB_PORT": "8080", "ARENA_WEB_BIND": bind, "ARENA_WEB_TOKEN": TOKEN})
    assert with_token.worker.web_exposure_problem() is None


@pytest.mark.parametrize("bind", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_every_loopback_address_needs_no_token(bind: str) -> None:
    assert WorkerSettings(web_port=8080, web_bind=bind).web_exposure_problem() is None


def test_the_token_never_shows_in_a_printout_of_the_settings() -> None:
    settings = Settings.from_env({"ARENA_WEB_PORT": "8080", "ARENA_WEB_BIND": "0.0.0.0", "ARENA_WEB_TOKEN": TOKEN})
    assert settings.worker.web_token == TOKEN
    for text in (repr(settings), repr(settings.worker), str(settings.worker), str(settings.redacted())):
        assert TOKEN not in text
    assert settings.with_bootstrap("b:9092").to_env()["ARENA_WEB_TOKEN"] == TOKEN, "a child worker needs it"


def test_the_advertised_url_is_the_configured_one_or_the_host_name_on_a_wildcard_bind() -> None:
    assert WorkerSettings(web_port=9000, web_url="http://w1.internal:9000").advertised_web_url() == (
        "http://w1.internal:9000"
    )
    assert WorkerSettings(web_port=9000, web_bind="0.0.0.0").advertised_web_url() == (
        f"http://{socket.gethostname()}:9000"
    )
    assert WorkerSettings(web_port=9000, web_bind="::1").advertised_web_url() == "http://[::1]:9000"
    assert Settings.from_env({"ARENA_WEB_URL": "http://w2:7000/"}).worker.web_url == "http://w2:7000"
