"""The local Kafka image's entrypoint (container/kafka/entrypoint.sh) names properties as apache/kafka does, so
docker-compose.yml and the testcontainers fixture configure either image with the same KAFKA_* variables."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.kafka_container import kraft_environment

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "container" / "kafka" / "entrypoint.sh"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the entrypoint is a bash script")


def _property_names(variables: list[str]) -> list[str]:
    text = ENTRYPOINT.read_text()
    function = re.search(r"^property_name\(\) \{\n.*?^\}\n", text, flags=re.MULTILINE | re.DOTALL)
    assert function is not None
    script = function.group(0) + 'for v in "$@"; do property_name "$v"; echo; done\n'
    done = subprocess.run(
        ["bash", "-c", script, "names", *variables], capture_output=True, text=True, check=True, timeout=10
    )
    return done.stdout.splitlines()


def test_variables_become_properties_by_the_official_image_s_rule() -> None:
    assert _property_names(
        ["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "KAFKA_NODE_ID", "KAFKA_LOG__DIRS", "KAFKA_SOME___DASHED_NAME"]
    ) == ["listener.security.protocol.map", "node.id", "log_dirs", "some-dashed.name"]


def test_every_variable_compose_and_the_fixture_set_is_a_kafka_property_name() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["kafka"]["environment"]
    variables = sorted({*compose, *kraft_environment("127.0.0.1", 19092)} - {"CLUSTER_ID"})
    names = _property_names(variables)
    assert all(re.fullmatch(r"[a-z]+(\.[a-z]+)*", name) for name in names), names
    assert {"process.roles", "controller.quorum.voters", "advertised.listeners", "log.dirs"} <= set(names)
