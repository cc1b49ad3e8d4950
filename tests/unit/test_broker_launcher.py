"""The launcher's failure paths: each ends in one actionable error, never a hang or a traceback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.broker.classpath import resolve_classpath
from streams.broker.errors import BrokerError
from streams.broker.launcher import BrokerInfo, BrokerPaths, LocalBroker
from streams.broker.node import NodeInfo
from streams.cli import main


@pytest.fixture
def paths(tmp_path: Path) -> BrokerPaths:
    """A broker home whose class path is already 'resolved' to a fake Kafka jar (no Maven needed)."""
    home = tmp_path / "broker"
    home.mkdir()
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    jar = tmp_path / "kafka_2.13-3.9.1.jar"
    jar.write_bytes(b"")
    cache = home / "classpath.txt"  # the pom's default version (KAFKA_VERSION unset)
    cache.write_text(str(jar))
    later = time.time() + 5
    os.utime(cache, (later, later))
    return BrokerPaths(home=home, pom=pom)


@pytest.fixture
def dying_java(tmp_path: Path) -> Path:
    """A 'java' that formats storage fine but exits at once when asked to run the broker."""
    script = tmp_path / "java"
    script.write_text(
        "#!/bin/sh\n"
        'for a in "$@"; do [ "$a" = kafka.tools.StorageTool ] && exit 0; done\n'
        'echo "ERROR Exiting Kafka due to fatal exception" >&2\n'
        "exit 1\n"
    )
    script.chmod(0o755)
    return script


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


def test_a_broker_that_exits_while_starting_is_reported_with_its_log(paths: BrokerPaths, dying_java: Path) -> None:
    with pytest.raises(BrokerError) as caught:
        LocalBroker(paths, java=str(dying_java)).start(timeout_s=10)
    assert "exited with code 1" in caught.value.one_line()
    assert caught.value.log_path is not None
    assert "fatal exception" in caught.value.log_path.read_text()
    assert not paths.state_file.exists(), "a failed start must not leave a pid file behind"


def test_missing_java_says_what_to_install(paths: BrokerPaths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(paths.home))
    with pytest.raises(BrokerError, match="java is not on PATH"):
        LocalBroker(paths).start()


def test_missing_maven_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match=r"Maven \(mvn\) is not on PATH"):
        resolve_classpath(pom, tmp_path / "classpath.txt")


def test_a_taken_port_is_a_clear_error(paths: BrokerPaths, dying_java: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerError, match=f"port {port} on 127.0.0.1 is already in use"):
            LocalBroker(paths, java=str(dying_java)).start(port=port)


def test_a_stale_pid_file_is_detected_and_removed(paths: BrokerPaths) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    paths.state_file.write_text(json.dumps(_state(dead.pid, paths)))
    assert LocalBroker(paths).status() is None
    assert not paths.state_file.exists()


def test_a_live_pid_that_is_not_our_broker_counts_as_stale(
    paths: BrokerPaths, sleeper: subprocess.Popen[bytes]
) -> None:
    paths.state_file.write_text(json.dumps(_state(sleeper.pid, paths)))
    assert LocalBroker(paths).status() is None, "a reused pid must not be mistaken for the broker"


def test_a_stale_classpath_cache_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    cache = tmp_path / "classpath.txt"
    cache.write_text(str(tmp_path / "kafka_2.13-3.9.1.jar"))  # names a jar that does not exist
    monkeypatch.setenv("PATH", str(tmp_path))  # so the only way out is "Maven is needed"
    with pytest.raises(BrokerError, match="Maven"):
        resolve_classpath(pom, cache)


def test_cli_turns_broker_errors_into_one_line_and_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("ARENA_BROKER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["broker", "start"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("arena: ")


def test_a_state_file_of_the_one_node_launcher_is_still_read(paths: BrokerPaths) -> None:
    """A broker started before clusters existed is found (and, dead, cleaned up) like any other."""
    paths.state_file.write_text(
        json.dumps(
            {
                "pid": 1,
                "broker_port": 9,
                "controller_port": 10,
                "kafka_version": "3.9.1",
                "data_dir": str(paths.data_dir),
                "started_at": 0.0,
            }
        )
    )
    info = LocalBroker(paths)._read_state()
    assert info == BrokerInfo(
        nodes=(NodeInfo(1, 1, 9, 10, str(paths.data_dir)),), kafka_version="3.9.1", started_at=0.0
    )


def test_a_cluster_lists_every_node_in_its_bootstrap_address() -> None:
    nodes = tuple(NodeInfo(i, 100 + i, 9000 + i, 9100 + i, f"/d{i}") for i in (1, 2, 3))
    info = BrokerInfo(nodes=nodes, kafka_version="4.4.0", started_at=0.0)
    assert info.bootstrap == "127.0.0.1:9001,127.0.0.1:9002,127.0.0.1:9003"
    assert info.node(2).broker_port == 9002


def test_each_node_of_a_cluster_has_its_own_directory_and_one_node_keeps_the_old_layout(paths: BrokerPaths) -> None:
    assert paths.node(1, 1).data_dir == paths.home / "data"
    assert paths.node(2, 3).data_dir == paths.home / "node-2" / "data"
    assert len({paths.node(i, 3).server_properties for i in (1, 2, 3)}) == 3


def _state(pid: int, paths: BrokerPaths) -> dict[str, object]:
    info = BrokerInfo(
        nodes=(NodeInfo(1, pid, 1, 2, str(paths.data_dir)),), kafka_version="3.9.1", started_at=time.time()
    )
    return {
        "nodes": [{"node_id": 1, "pid": pid, "broker_port": 1, "controller_port": 2, "data_dir": info.data_dir}],
        "kafka_version": info.kafka_version,
        "started_at": info.started_at,
    }
