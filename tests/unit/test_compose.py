"""docker-compose.yml is valid, creates exactly the topics the code expects with the same retention, and runs the
Kafka release the launcher defaults to (so do pom.xml and the README)."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from streams.broker.versions import DEFAULT_KAFKA_VERSION, OLDEST_TESTED_KAFKA_VERSION
from streams.kafka.settings import Settings
from streams.kafka.topics import topic_layout

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_compose_file_creates_the_default_topics_with_the_code_s_layout() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    script = "\n".join(spec["services"]["topics"]["command"])
    created = dict(re.findall(r"^\s*create (\S+) (-?\d+)\s*$", script, flags=re.MULTILINE))
    layout = topic_layout(Settings())
    assert created == {t.name: t.configs["retention.ms"] for t in layout}
    assert f"--partitions {Settings().partitions}" in script
    assert spec["services"]["worker"]["environment"]["ARENA_PARTITIONS"] == str(Settings().partitions)


def test_compose_file_publishes_kafka_on_loopback_only() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    assert all(port.startswith("127.0.0.1:") for port in spec["services"]["kafka"]["ports"])


@pytest.mark.skipif(_compose_command() is None, reason="neither `docker compose` nor `docker-compose` is installed")
def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    assert command is not None
    done = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_compose_runs_the_kafka_release_the_launcher_defaults_to() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    images = {spec["services"][name]["image"] for name in ("kafka", "topics")}
    assert images == {f"apache/kafka:{DEFAULT_KAFKA_VERSION}"}


def test_the_pom_and_the_readme_name_the_same_default_kafka_release() -> None:
    pom = ET.parse(ROOT / "pom.xml").getroot()
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = pom.find("m:properties/m:kafka.version", namespace)
    assert version is not None and version.text == DEFAULT_KAFKA_VERSION
    readme = (ROOT / "README.md").read_text()
    assert f"kafka_2.13:{DEFAULT_KAFKA_VERSION}" in readme
    assert f"**{DEFAULT_KAFKA_VERSION} is the default**" in readme


def test_ci_tests_the_oldest_supported_kafka_release() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert f"KAFKA_VERSION={OLDEST_TESTED_KAFKA_VERSION} " in makefile
    assert "make test-kafka-3.9" in (ROOT / ".ci" / "run").read_text()
