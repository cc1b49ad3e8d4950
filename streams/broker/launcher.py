"""Start, find and stop the project's local Apache Kafka: one KRaft node, or a cluster of three, on 127.0.0.1.

Everything the cluster owns lives under one project-local directory (`.arena/broker` by default): its
class path cache, each node's config, data, log, and a small JSON state file with every node's pid and
ports. That makes "is a broker already running for this project?" a question about files plus a
liveness probe, and it lets a restart come back on the same ports so that running clients reconnect by
themselves.

Three nodes (`arena broker start --nodes 3`) are three combined broker+controller JVMs: a controller
quorum of three, replication 3 and `min.insync.replicas=2` (streams/broker/properties.py). The failover
tests kill and restart single nodes through `kill_node` and `start_node`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from streams.broker.classpath import ResolvedClasspath, resolve_classpath
from streams.broker.cluster_id import new_cluster_id
from streams.broker.errors import BrokerError
from streams.broker.node import (
    NodeInfo,
    NodePaths,
    format_command,
    formatted_cluster_id,
    is_our_node,
    node_command,
    send_signal,
    wait_gone,
)
from streams.broker.properties import NodeAddress, log4j2_properties, log4j_properties, server_properties

# Heap per node: one node may take 1 GB; three share a laptop (or a 2-core CI machine) with the worker.
_HEAP_ONE_NODE = "1g"
_HEAP_PER_CLUSTER_NODE = "640m"


@dataclass(frozen=True, slots=True)
class BrokerPaths:
    """Where one project's cluster keeps its things; all derived from one home directory."""

    home: Path
    pom: Path

    def node(self, node_id: int, nodes: int) -> NodePaths:
        return NodePaths(self.home if nodes == 1 else self.home / f"node-{node_id}")

    @property
    def state_file(self) -> Path:
        return self.home / "broker.json"

    @property
    def ports_file(self) -> Path:
        return self.home / "ports.json"

    def classpath_cache(self, version: str | None) -> Path:
        return self.home / ("classpath.txt" if version is None else f"classpath-{version}.txt")

    # The one-node layout, by its old names (tests and the CLI point people at these files).
    @property
    def data_dir(self) -> Path:
        return self.node(1, 1).data_dir

    @property
    def log_file(self) -> Path:
        return self.node(1, 1).log_file

    @property
    def stdout_file(self) -> Path:
        return self.node(1, 1).stdout_file


@dataclass(frozen=True, slots=True)
class BrokerInfo:
    """What `arena broker status` shows, and what clients need to connect."""

    nodes: tuple[NodeInfo, ...]
    kafka_version: str
    started_at: float

    @property
    def bootstrap(self) -> str:
        """Every node's address: a client that finds one node down asks the next."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def pid(self) -> int:
        return self.nodes[0].pid

    @property
    def broker_port(self) -> int:
        return self.nodes[0].broker_port

    @property
    def data_dir(self) -> str:
        return self.nodes[0].data_dir

    def node(self, node_id: int) -> NodeInfo:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise BrokerError(f"the local cluster has no node {node_id} (nodes: {[n.node_id for n in self.nodes]})")


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


def requested_kafka_version() -> str | None:
    """KAFKA_VERSION picks a Kafka release other than the pom's default (4.4.0), e.g. 3.9.1."""
    return os.environ.get("KAFKA_VERSION") or None


class LocalBroker:
    """The project-local Kafka cluster (one node by default), found again across CLI invocations by its files."""

    def __init__(
        self, paths: BrokerPaths | None = None, *, java: str | None = None, kafka_version: str | None = None
    ) -> None:
        given = paths or default_paths()
        # Absolute: each node runs in its own directory, so a relative home would point elsewhere there.
        self.paths = BrokerPaths(home=given.home.resolve(), pom=given.pom.resolve())
        self._java = java
        self.kafka_version = kafka_version or requested_kafka_version()

    # ---- queries -------------------------------------------------------------------------------

    def status(self) -> BrokerInfo | None:
        """The cluster's info while any of its nodes runs, or None; a state file left by dead nodes is removed."""
        info = self._read_state()
        if info is None:
            return None
        if not self.live_nodes(info):
            self.paths.state_file.unlink(missing_ok=True)
            return None
        return info

    def live_nodes(self, info: BrokerInfo) -> list[int]:
        """The ids of the nodes whose recorded process is alive and still ours."""
        return [
            node.node_id for node in info.nodes if is_our_node(node.pid, self.paths.node(node.node_id, len(info.nodes)))
        ]

    def answers(self, bootstrap: str, timeout_s: float = 3.0) -> bool:
        """True when the cluster answers a metadata request, the point at which clients can work."""
        return listed_brokers(bootstrap, timeout_s) > 0

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(
        self,
        *,
        nodes: int | None = None,
        port: int | None = None,
        timeout_s: float = 120.0,
        heap: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> StartResult:
        """Start the cluster, or return the one already running for this project.

        `nodes` None means: as many as run now, or as the last start had, or one. A port asked for
        explicitly (the first node's) must be free; otherwise the last ports are reused when free so
        that clients of a restarted cluster reconnect, and free ones are picked when not. Nodes of a
        running cluster that were killed are started again.
        """
        say = progress or (lambda _msg: None)
        began = time.monotonic()
        running = self.status()
        if running is not None:
            if nodes is not None and nodes != len(running.nodes):
                raise BrokerError(
                    f"a {len(running.nodes)}-node cluster for this project already runs ({running.bootstrap}); "
                    f"stop it first (arena broker stop) to start {nodes} node(s)"
                )
            if port is not None and port != running.broker_port:
                raise BrokerError(
                    f"a broker for this project already runs on port {running.broker_port}; "
                    f"stop it first (arena broker stop) to move it to port {port}"
                )
            down = [n.node_id for n in running.nodes if n.node_id not in self.live_nodes(running)]
            for node_id in down:
                say(f"node {node_id} is down; starting it again")
                self.start_node(node_id, timeout_s=timeout_s)
            info = self._read_state() or running
            return StartResult(info=info, reused=True, seconds=time.monotonic() - began)

        count = nodes or self._last_node_count() or 1
        if count < 1:
            raise BrokerError(f"a cluster needs at least one node, not {count}")
        java = self._java_binary()
        say("resolving Kafka with Maven (cached after the first run)")
        classpath = self._classpath()
        addresses = self._choose_addresses(count, port)
        self.paths.home.mkdir(parents=True, exist_ok=True)
        for address in addresses:
            self._write_config(self.paths.node(address.node_id, count), address, addresses)
        self._format_storage_once(java, classpath.joined, addresses)

        say(f"starting Kafka {classpath.kafka_version}: {count} node(s) on 127.0.0.1")
        node_heap = heap or (_HEAP_ONE_NODE if count == 1 else _HEAP_PER_CLUSTER_NODE)
        # All at once: a node of a quorum of three answers only once a majority of controllers is up.
        processes = {
            a.node_id: self._spawn(java, classpath.joined, self.paths.node(a.node_id, count), node_heap)
            for a in addresses
        }
        info = BrokerInfo(
            nodes=tuple(
                NodeInfo(
                    node_id=a.node_id,
                    pid=processes[a.node_id].pid,
                    broker_port=a.broker_port,
                    controller_port=a.controller_port,
                    data_dir=str(self.paths.node(a.node_id, count).data_dir),
                )
                for a in addresses
            ),
            kafka_version=classpath.kafka_version,
            started_at=time.time(),
        )
        self._write_state(info)
        self._wait_until_ready(processes, info.nodes, timeout_s, count=count, expect_brokers=count)
        return StartResult(info=info, reused=False, seconds=time.monotonic() - began)

    def stop(self, *, timeout_s: float = 60.0) -> BrokerInfo | None:
        """Stop every node gracefully (SIGTERM lets it close its logs cleanly), killing the ones that hang."""
        info = self.status()
        if info is None:
            return None
        live = [info.node(node_id) for node_id in self.live_nodes(info)]
        # Together: a node of a quorum that waits for the others to agree on its shutdown is not left alone.
        for node in live:
            send_signal(node.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for node in live:
            if not wait_gone(node.pid, max(0.0, deadline - time.monotonic())):
                send_signal(node.pid, signal.SIGKILL)
                wait_gone(node.pid, 30)
        self.paths.state_file.unlink(missing_ok=True)
        return info

    def kill_node(self, node_id: int) -> NodeInfo:
        """SIGKILL one node, as a crashed machine: no controlled shutdown, no flush, no leader handover."""
        info = self._require_running()
        node = info.node(node_id)
        if is_our_node(node.pid, self.paths.node(node_id, len(info.nodes))):
            send_signal(node.pid, signal.SIGKILL)
            wait_gone(node.pid, 30)
        return node

    def stop_node(self, node_id: int, *, timeout_s: float = 60.0) -> NodeInfo:
        """SIGTERM one node (a controlled shutdown: it hands its leaderships over first)."""
        info = self._require_running()
        node = info.node(node_id)
        if is_our_node(node.pid, self.paths.node(node_id, len(info.nodes))):
            send_signal(node.pid, signal.SIGTERM)
            if not wait_gone(node.pid, timeout_s):
                send_signal(node.pid, signal.SIGKILL)
                wait_gone(node.pid, 30)
        return node

    def start_node(self, node_id: int, *, timeout_s: float = 120.0, heap: str | None = None) -> NodeInfo:
        """Start one stopped node of the running cluster again, on its old ports, with its old data.

        Waits until that node itself answers metadata requests, which a KRaft broker does once it has
        caught up with the controller quorum.
        """
        info = self._require_running()
        node = info.node(node_id)
        count = len(info.nodes)
        paths = self.paths.node(node_id, count)
        if is_our_node(node.pid, paths):
            return node
        java = self._java_binary()
        classpath = self._classpath()
        process = self._spawn(
            java, classpath.joined, paths, heap or (_HEAP_ONE_NODE if count == 1 else _HEAP_PER_CLUSTER_NODE)
        )
        restarted = NodeInfo(node_id, process.pid, node.broker_port, node.controller_port, node.data_dir)
        updated = BrokerInfo(
            nodes=tuple(restarted if n.node_id == node_id else n for n in info.nodes),
            kafka_version=info.kafka_version,
            started_at=info.started_at,
        )
        self._write_state(updated)
        self._wait_until_ready(
            {node_id: process}, (restarted,), timeout_s, count=count, expect_brokers=1, forget_state=False
        )
        return restarted

    # ---- internals -----------------------------------------------------------------------------

    def _require_running(self) -> BrokerInfo:
        info = self._read_state()
        if info is None:
            raise BrokerError(f"no local cluster is running (home {self.paths.home}); start it first")
        return info

    def _java_binary(self) -> str:
        java = self._java or shutil.which("java")
        if java is None:
            raise BrokerError(
                "java is not on PATH; the local broker needs a JRE 17+ "
                "(Debian: apt-get install openjdk-17-jre-headless) or set KAFKA_BOOTSTRAP_SERVERS"
            )
        return java

    def _classpath(self) -> ResolvedClasspath:
        version = self.kafka_version
        return resolve_classpath(self.paths.pom, self.paths.classpath_cache(version), version=version)

    def _write_config(self, paths: NodePaths, node: NodeAddress, cluster: Sequence[NodeAddress]) -> None:
        paths.home.mkdir(parents=True, exist_ok=True)
        paths.server_properties.write_text(server_properties(data_dir=paths.data_dir, node=node, cluster=cluster))
        paths.log4j_properties.write_text(log4j_properties(log_file=paths.log_file))
        paths.log4j2_properties.write_text(log4j2_properties(log_file=paths.log_file))

    def _spawn(self, java: str, classpath: str, paths: NodePaths, heap: str) -> subprocess.Popen[bytes]:
        with paths.stdout_file.open("ab") as out:
            return subprocess.Popen(  # noqa: S603 - a fixed command line built from our own files
                node_command(java, classpath, paths, heap=heap),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI that started it; stopped by `arena broker stop`
                cwd=paths.home,
            )

    def _choose_addresses(self, count: int, port: int | None) -> list[NodeAddress]:
        if port is not None and not _port_free(port):
            raise BrokerError(
                f"port {port} on 127.0.0.1 is already in use; choose another with --port "
                "or leave it out to pick a free one"
            )
        previous = self._last_ports()
        reusable = port is None and previous is not None and len(previous) == count
        if reusable and previous and all(_port_free(b) and _port_free(c) for b, c in previous):
            return [NodeAddress(i + 1, b, c) for i, (b, c) in enumerate(previous)]
        taken: set[int] = set() if port is None else {port}
        addresses: list[NodeAddress] = []
        for index in range(count):
            broker_port = port if (index == 0 and port is not None) else _free_port(avoid=taken)
            taken.add(broker_port)
            controller_port = _free_port(avoid=taken)
            taken.add(controller_port)
            addresses.append(NodeAddress(index + 1, broker_port, controller_port))
        return addresses

    def _format_storage_once(self, java: str, classpath: str, cluster: Sequence[NodeAddress]) -> None:
        """KRaft needs each node's log directory formatted exactly once, every node with the same cluster id."""
        count = len(cluster)
        known = {found for a in cluster if (found := formatted_cluster_id(self.paths.node(a.node_id, count)))}
        if len(known) > 1:
            raise BrokerError(
                f"the nodes under {self.paths.home} were formatted for different clusters ({sorted(known)}); "
                "remove that directory to start afresh"
            )
        cluster_id = next(iter(known)) if known else new_cluster_id()
        for address in cluster:
            paths = self.paths.node(address.node_id, count)
            if formatted_cluster_id(paths) is not None:
                continue
            paths.data_dir.mkdir(parents=True, exist_ok=True)
            with paths.stdout_file.open("ab") as out:
                done = subprocess.run(  # noqa: S603 - a fixed command line built from our own files
                    format_command(java, classpath, paths, cluster_id),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=False,
                    timeout=120,
                )
            if done.returncode != 0:
                raise BrokerError(
                    f"formatting KRaft storage in {paths.data_dir} failed (exit {done.returncode})",
                    log_path=paths.stdout_file,
                )

    def _wait_until_ready(
        self,
        processes: dict[int, subprocess.Popen[bytes]],
        nodes: Sequence[NodeInfo],
        timeout_s: float,
        *,
        count: int,
        expect_brokers: int,
        forget_state: bool = True,
    ) -> None:
        """Until every node in `nodes` answers, itself, with `expect_brokers` brokers listed; a node that
        exits first ends the wait with its log.

        Each node is asked on its own address: a restarted cluster's first answers come from replayed
        metadata that still lists every old registration, while a KRaft broker serves requests only once
        the controller has unfenced it, so only its own answer says it is up.
        """
        bootstrap = ",".join(node.bootstrap for node in nodes)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for node_id, process in processes.items():
                code = process.poll()
                if code is not None:
                    self._abandon(processes, forget_state)
                    paths = self.paths.node(node_id, count)
                    raise BrokerError(
                        f"Kafka node {node_id} exited with code {code} while starting",
                        log_path=paths.log_file if paths.log_file.exists() else paths.stdout_file,
                    )
            if all(listed_brokers(node.bootstrap, timeout_s=2.0) >= expect_brokers for node in nodes):
                return
            time.sleep(0.3)
        self._abandon(processes, forget_state)
        first = min(processes)
        raise BrokerError(
            f"Kafka did not answer on {bootstrap} with {expect_brokers} broker(s) within {timeout_s:.0f}s "
            "and was stopped",
            log_path=self.paths.node(first, count).log_file,
        )

    def _abandon(self, processes: dict[int, subprocess.Popen[bytes]], forget_state: bool) -> None:
        for process in processes.values():
            if process.poll() is None:
                send_signal(process.pid, signal.SIGKILL)
            process.wait()
        if forget_state:
            self.paths.state_file.unlink(missing_ok=True)

    def _read_state(self) -> BrokerInfo | None:
        try:
            raw = json.loads(self.paths.state_file.read_text())
            if "nodes" not in raw:  # written by a launcher that knew one node only
                node = NodeInfo(1, raw["pid"], raw["broker_port"], raw["controller_port"], raw["data_dir"])
                return BrokerInfo(nodes=(node,), kafka_version=raw["kafka_version"], started_at=raw["started_at"])
            return BrokerInfo(
                nodes=tuple(NodeInfo(**node) for node in raw["nodes"]),
                kafka_version=raw["kafka_version"],
                started_at=raw["started_at"],
            )
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def _write_state(self, info: BrokerInfo) -> None:
        nodes = [
            {
                "node_id": n.node_id,
                "pid": n.pid,
                "broker_port": n.broker_port,
                "controller_port": n.controller_port,
                "data_dir": n.data_dir,
            }
            for n in info.nodes
        ]
        _write_json(
            self.paths.state_file,
            {"nodes": nodes, "kafka_version": info.kafka_version, "started_at": info.started_at},
        )
        _write_json(self.paths.ports_file, {"nodes": [[n.broker_port, n.controller_port] for n in info.nodes]})

    def _last_ports(self) -> list[tuple[int, int]] | None:
        """The ports of the last start, kept after a stop so a restarted cluster comes back where it was."""
        try:
            raw = json.loads(self.paths.ports_file.read_text())
            if "nodes" in raw:
                return [(int(b), int(c)) for b, c in raw["nodes"]]
            return [(int(raw["broker"]), int(raw["controller"]))]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _last_node_count(self) -> int | None:
        previous = self._last_ports()
        return len(previous) if previous else None


def listed_brokers(bootstrap: str, timeout_s: float = 3.0) -> int:
    """How many brokers the cluster's metadata lists (0 when nothing answers)."""
    from confluent_kafka.admin import AdminClient  # noqa: PLC0415 - keep `arena --help` fast

    # A closed port answers at once; only when some node listens is a Kafka client worth its start-up.
    if not any(_listening(server, timeout_s) for server in bootstrap.split(",")):
        return 0
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout_s * 1000), "log_level": 0})
    try:
        metadata = admin.list_topics(timeout=timeout_s)
    except Exception:  # noqa: BLE001 - any client error here means "not answering yet"
        return 0
    return len(metadata.brokers)


def _listening(server: str, timeout_s: float) -> bool:
    host, _, port = server.strip().rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError):
        return False
    return True


def _write_json(path: Path, value: object) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)


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


__all__ = ["BrokerInfo", "BrokerPaths", "LocalBroker", "StartResult", "listed_brokers", "project_root"]
