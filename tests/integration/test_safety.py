"""Safety settings: a loopback-only local broker, and secrets that never reach a log or a report."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from producers.simulation import SimulationConfig
from streams.broker.launcher import LocalBroker
from streams.kafka.settings import Settings
from streams.main_job import MainJobOptions, SimulationSource, run_main_job
from tests.support.kafka_cluster import KafkaCluster, broker_home_paths

pytestmark = pytest.mark.integration

SECRET = "s3cret-Never-Print-Me-7f3a"


def _listening(port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Local addresses with a socket listening on `port`, from the kernel's own tables."""
    found: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            hex_address, hex_port = fields[1].split(":")
            if int(hex_port, 16) != port or fields[3] != "0A":  # 0A: LISTEN
                continue
            # The kernel prints each 32-bit word of the address in host (little-endian) order.
            raw = b"".join(bytes.fromhex(hex_address[i : i + 8])[::-1] for i in range(0, len(hex_address), 8))
            address = ipaddress.ip_address(raw)
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped  # Java listens on ::ffff:127.0.0.1 for 127.0.0.1
            found.add(address)
    return found


def test_the_local_broker_listens_on_loopback_only(kafka: KafkaCluster) -> None:
    if kafka.kind != "local":
        pytest.fail("this test checks the project's own launcher; run it without KAFKA_BOOTSTRAP_SERVERS")
    info = LocalBroker(broker_home_paths())
    status = info.status()
    assert status is not None, "the session's broker is not running"
    for port in (status.broker_port, status.nodes[0].controller_port):
        addresses = _listening(port)
        assert addresses, f"nothing listens on port {port}"
        assert all(a == ipaddress.ip_address("127.0.0.1") for a in addresses), f"port {port} listens on {addresses}"


def test_a_secret_in_the_configuration_never_reaches_logs_reports_or_output(
    settings: Settings, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker subprocess reads its security settings from the environment, like a deployed one.
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "arena")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", SECRET)
    monkeypatch.setenv("KAFKA_SSL_KEY_PASSWORD", SECRET)
    configured = Settings(
        bootstrap=settings.bootstrap,
        topics=settings.topics,
        partitions=settings.partitions,
        replication=settings.replication,
        security={**settings.security, "sasl.username": "arena", "sasl.password": SECRET},
    )
    assert SECRET not in repr(configured)
    config = SimulationConfig(seed=5, arenas=1, agents_per_arena=6, days=2, partitions=settings.partitions)
    lines: list[str] = []
    outcome = run_main_job(
        configured.with_worker(app_id=f"{prefix}app"),
        SimulationSource(config),
        MainJobOptions(report_root=tmp_path / "reports", timeout_s=300),
        say=lines.append,
    )
    text = "\n".join(lines)
    assert outcome.exit_code == 0, text
    assert SECRET not in text
    written = [p for p in outcome.report_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in written), "the worker's log should be part of the run's directory"
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), f"the secret leaked into {path}"
