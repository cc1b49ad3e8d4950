"""docker-compose.yml is valid and creates exactly the topics the code expects, with the same retention."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

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
