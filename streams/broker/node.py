"""One KRaft node process of the local cluster: its files, its command line, and telling it from a stranger.

A node is found again across CLI invocations by its files (the launcher's state file holds its pid), so
"is this pid still our node?" is asked of /proc: pids get reused, and a reused pid must never be
signalled as if it were the broker.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

KAFKA_MAIN = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


@dataclass(frozen=True, slots=True)
class NodePaths:
    """Where one node keeps its things. A one-node cluster keeps them in the home itself (the layout
    the launcher has always had); node N of a larger cluster in `home/node-N`."""

    home: Path

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
    def server_properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_properties(self) -> Path:
        return self.home / "log4j.properties"

    @property
    def log4j2_properties(self) -> Path:
        return self.home / "log4j2.properties"

    def logging_flags(self) -> list[str]:
        """Both configurations: Kafka 3.x reads the first (reload4j), 4.x the second (log4j2)."""
        return [
            f"-Dlog4j.configuration=file:{self.log4j_properties}",
            f"-Dlog4j2.configurationFile={self.log4j2_properties}",
        ]


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One running (or killed) node as the state file remembers it."""

    node_id: int
    pid: int
    broker_port: int
    controller_port: int
    data_dir: str

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.broker_port}"


def node_command(java: str, classpath: str, paths: NodePaths, *, heap: str) -> list[str]:
    return [
        java,
        f"-Xmx{heap}",
        "-Xms256m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        *paths.logging_flags(),
        f"-Dkafka.logs.dir={paths.home}",
        "-cp",
        classpath,
        KAFKA_MAIN,
        str(paths.server_properties),
    ]


def format_command(java: str, classpath: str, paths: NodePaths, cluster_id: str) -> list[str]:
    # `--cluster-id=ID` in one argument: an id is never taken for an option, whatever it starts with.
    return [
        java,
        *paths.logging_flags(),
        "-cp",
        classpath,
        STORAGE_TOOL,
        "format",
        "--ignore-formatted",
        f"--cluster-id={cluster_id}",
        "-c",
        str(paths.server_properties),
    ]


def formatted_cluster_id(paths: NodePaths) -> str | None:
    """The cluster id a node's storage was formatted with, or None if it was never formatted."""
    try:
        text = (paths.data_dir / "meta.properties").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "cluster.id":
            return value.strip()
    return None


def is_our_node(pid: int, paths: NodePaths) -> bool:
    """A live pid is ours only if it is a Kafka JVM using this node's config (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return alive(pid) and not Path("/proc").exists()
    text = [part.decode(errors="replace") for part in cmdline]
    return KAFKA_MAIN in text and str(paths.server_properties) in text


def alive(pid: int) -> bool:
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


def send_signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return


def wait_gone(pid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
