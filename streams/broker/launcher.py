"""Start, find and stop the project's local Apache Kafka broker (KRaft, one node, 127.0.0.1).

Everything the broker owns lives under one project-local directory (`.arena/broker` by default):
its class path cache, its config, its data, its log, its pid and a small JSON state file. That makes
"is a broker already running for this project?" a question about files plus a liveness probe, and it
lets a restart come back on the same port so that running clients reconnect by themselves.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from streams.broker.classpath import resolve_classpath
from streams.broker.errors import BrokerError
from streams.broker.properties import log4j_properties, server_properties

_KAFKA_MAIN = "kafka.Kafka"
_STORAGE_TOOL = "kafka.tools.StorageTool"


@dataclass(frozen=True, slots=True)
class BrokerPaths:
    """Where one project's broker keeps its things; all derived from one home directory."""

    home: Path
    pom: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "broker.log"

    @property
    def stdout_file(self) -> Path:
        return self.home / "broker.stdout"

    @property
    def state_file(self) -> Path:
        return self.home / "broker.json"

    @property
    def ports_file(self) -> Path:
        return self.home / "ports.json"

    @property
    def classpath_cache(self) -> Path:
        return self.home / "classpath.txt"

    @property
    def server_properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_properties(self) -> Path:
        return self.home / "log4j.properties"


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    """What `arena broker status` shows, and what clients need to connect."""

    pid: int
    broker_port: int
    controller_port: int
    kafka_version: str
    data_dir: str
    started_at: float

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"


@dataclass(frozen=True, slots=True)
class StartResult:
    info: BrokerInfo
    reused: bool
    seconds: float


def project_root() -> Path:
    """The checkout this package lives in (it is installed editable), or ARENA_HOME if set."""
    override = os.environ.get("ARENA_HOME")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2]


def default_paths() -> BrokerPaths:
    root = project_root()
    home = Path(os.environ.get("ARENA_BROKER_HOME", root / ".arena" / "broker")).resolve()
    pom = Path(os.environ.get("ARENA_BROKER_POM", root / "pom.xml")).resolve()
    return BrokerPaths(home=home, pom=pom)


class LocalBroker:
    """One project-local Kafka broker process, found again across CLI invocations by its files."""

    def __init__(self, paths: BrokerPaths | None = None, *, java: str | None = None) -> None:
        self.paths = paths or default_paths()
        self._java = java

    # ---- queries -------------------------------------------------------------------------------

    def status(self) -> BrokerInfo | None:
        """The running broker's info, or None; a pid file left by a dead broker is removed."""
        info = self._read_state()
        if info is None:
            return None
        if not self._is_our_broker(info.pid):
            self.paths.state_file.unlink(missing_ok=True)
            return None
        return info

    def answers(self, bootstrap: str, timeout_s: float = 3.0) -> bool:
        """True when the broker answers a metadata request, the point at which clients can work."""
        from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - keep `arena --help` fast

        host, _, port = bootstrap.rpartition(":")
        try:  # a closed port answers at once; only then is a Kafka client worth its start-up and logs
            socket.create_connection((host, int(port)), timeout=timeout_s).close()
        except (OSError, ValueError):
            return False
        admin = AdminClient(
            {"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout_s * 1000), "log_level": 0}
        )
        try:
            metadata = admin.list_topics(timeout=timeout_s)
        except Exception:  # noqa: BLE001 - any client error here means "not answering yet"
            return False
        return bool(metadata.brokers)

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(
        self,
        *,
        port: int | None = None,
        timeout_s: float = 120.0,
        heap: str = "1g",
        progress: Callable[[str], None] | None = None,
    ) -> StartResult:
        """Start the broker, or return the one already running for this project.

        A port asked for explicitly must be free (a clash is an error that names the port); with no
        port asked for, the last port is reused when free so that clients of a restarted broker
        reconnect, and otherwise a free one is picked.
        """
        say = progress or (lambda _msg: None)
        began = time.monotonic()
        running = self.status()
        if running is not None:
            if port is not None and port != running.broker_port:
                raise BrokerError(
                    f"a broker for this project already runs on port {running.broker_port}; "
                    f"stop it first (arena broker stop) to move it to port {port}"
                )
            return StartResult(info=running, reused=True, seconds=time.monotonic() - began)

        java = self._java_binary()
        say("resolving Kafka with Maven (cached after the first run)")
        classpath = resolve_classpath(self.paths.pom, self.paths.classpath_cache)
        broker_port, controller_port = self._choose_ports(port)
        self.paths.home.mkdir(parents=True, exist_ok=True)
        self.paths.server_properties.write_text(
            server_properties(data_dir=self.paths.data_dir, broker_port=broker_port, controller_port=controller_port)
        )
        self.paths.log4j_properties.write_text(log4j_properties(log_file=self.paths.log_file))
        self._format_storage_once(java, classpath.joined)

        say(f"starting Kafka {classpath.kafka_version} on 127.0.0.1:{broker_port}")
        command = [
            java,
            f"-Xmx{heap}",
            "-Xms256m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.paths.log4j_properties}",
            f"-Dkafka.logs.dir={self.paths.home}",
            "-cp",
            classpath.joined,
            _KAFKA_MAIN,
            str(self.paths.server_properties),
        ]
        with self.paths.stdout_file.open("ab") as out:
            process = subprocess.Popen(  # noqa: S603 - a fixed command line built above
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI that started it; stopped by `arena broker stop`
                cwd=self.paths.home,
            )
        info = BrokerInfo(
            pid=process.pid,
            broker_port=broker_port,
            controller_port=controller_port,
            kafka_version=classpath.kafka_version,
            data_dir=str(self.paths.data_dir),
            started_at=time.time(),
        )
        self._write_state(info)
        self._wait_until_ready(process, info, timeout_s)
        return StartResult(info=info, reused=False, seconds=time.monotonic() - began)

    def stop(self, *, timeout_s: float = 60.0) -> BrokerInfo | None:
        """Stop the broker gracefully (SIGTERM lets it close its logs cleanly), killing it if it hangs."""
        info = self.status()
        if info is None:
            return None
        _signal(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and _alive(info.pid):
            time.sleep(0.2)
        if _alive(info.pid):
            _signal(info.pid, signal.SIGKILL)
            while _alive(info.pid):
                time.sleep(0.1)
        self.paths.state_file.unlink(missing_ok=True)
        return info

    # ---- internals -----------------------------------------------------------------------------

    def _java_binary(self) -> str:
        java = self._java or shutil.which("java")
        if java is None:
            raise BrokerError(
                "java is not on PATH; the local broker needs a JRE 17+ "
                "(Debian: apt-get install openjdk-17-jre-headless) or set KAFKA_BOOTSTRAP_SERVERS"
            )
        return java

    def _choose_ports(self, port: int | None) -> tuple[int, int]:
        if port is not None:
            if not _port_free(port):
                raise BrokerError(
                    f"port {port} on 127.0.0.1 is already in use; choose another with --port "
                    "or leave it out to pick a free one"
                )
            return port, _free_port(avoid={port})
        previous = self._last_ports()
        if previous and _port_free(previous[0]) and _port_free(previous[1]):
            return previous
        broker_port = _free_port(avoid=set())
        return broker_port, _free_port(avoid={broker_port})

    def _format_storage_once(self, java: str, classpath: str) -> None:
        """KRaft needs its log directory formatted with a cluster id exactly once."""
        if (self.paths.data_dir / "meta.properties").exists():
            return
        self.paths.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = _kraft_cluster_id()
        command = [
            java,
            f"-Dlog4j.configuration=file:{self.paths.log4j_properties}",
            "-cp",
            classpath,
            _STORAGE_TOOL,
            "format",
            "--ignore-formatted",
            "-t",
            cluster_id,
            "-c",
            str(self.paths.server_properties),
        ]
        with self.paths.stdout_file.open("ab") as out:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=120)  # noqa: S603
        if done.returncode != 0:
            raise BrokerError(
                f"formatting KRaft storage in {self.paths.data_dir} failed (exit {done.returncode})",
                log_path=self.paths.stdout_file,
            )

    def _wait_until_ready(self, process: subprocess.Popen[bytes], info: BrokerInfo, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            code = process.poll()
            if code is not None:
                self.paths.state_file.unlink(missing_ok=True)
                raise BrokerError(
                    f"the Kafka broker exited with code {code} while starting",
                    log_path=self.paths.log_file if self.paths.log_file.exists() else self.paths.stdout_file,
                )
            if self.answers(info.bootstrap, timeout_s=2.0):
                return
            time.sleep(0.3)
        _signal(process.pid, signal.SIGKILL)
        process.wait()
        self.paths.state_file.unlink(missing_ok=True)
        raise BrokerError(
            f"the Kafka broker did not answer on {info.bootstrap} within {timeout_s:.0f}s and was stopped",
            log_path=self.paths.log_file,
        )

    def _is_our_broker(self, pid: int) -> bool:
        """A live pid is ours only if it is a Kafka JVM using our config (pids get reused)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return _alive(pid) and not Path("/proc").exists()
        text = [part.decode(errors="replace") for part in cmdline]
        return _KAFKA_MAIN in text and str(self.paths.server_properties) in text

    def _read_state(self) -> BrokerInfo | None:
        try:
            raw = json.loads(self.paths.state_file.read_text())
            return BrokerInfo(**raw)
        except (OSError, ValueError, TypeError):
            return None

    def _write_state(self, info: BrokerInfo) -> None:
        _write_json(self.paths.state_file, asdict(info))
        _write_json(self.paths.ports_file, {"broker": info.broker_port, "controller": info.controller_port})

    def _last_ports(self) -> tuple[int, int] | None:
        """The ports of the last start, kept after a stop so a restarted broker comes back where it was."""
        try:
            raw = json.loads(self.paths.ports_file.read_text())
            return int(raw["broker"]), int(raw["controller"])
        except (OSError, ValueError, KeyError, TypeError):
            return None


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


def _kraft_cluster_id() -> str:
    """Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding (22 chars)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


def _free_port(*, avoid: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists" for kill(0); its /proc status says whether it is really gone.
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
