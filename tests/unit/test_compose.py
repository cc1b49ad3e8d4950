"""docker-compose.yml is valid, runs the project's own image (the Dockerfile's) for the topics, the worker and the
simulation, creates the topics with the worker's app id and partition count, and runs the Kafka release the
launcher defaults to (so do pom.xml and the README)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.broker.versions import DEFAULT_KAFKA_VERSION, OLDEST_TESTED_KAFKA_VERSION
from streams.kafka.settings import DEFAULT_APP_ID, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DEFAULT_PYTHON_IMAGE = "python:3.11-slim"
HEALTHCHECK_IN_IMAGE = "/usr/local/lib/arena/healthcheck.py"


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def _spec() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return spec


def _default_of(reference: str) -> str:
    """`${NAME:-default}` → default (a plain value is its own default)."""
    match = re.fullmatch(r"\$\{\w+:-(?P<default>[^}]+)\}", reference)
    return match.group("default") if match else reference


def test_the_topic_creator_creates_what_the_worker_needs_with_the_same_app_id_and_partitions() -> None:
    services = _spec()["services"]
    app_id = services["worker"]["environment"]["ARENA_APP_ID"]
    assert app_id == DEFAULT_APP_ID
    # `arena topics create --app-id ...`: the pipeline's topics and that worker's table changelogs, laid
    # out by streams/kafka/topics.py itself (no second copy of names or retention to keep in step).
    assert services["topics"]["command"] == ["topics", "create", "--app-id", app_id]
    for name in ("topics", "worker", "simulation"):
        environment = services[name]["environment"]
        assert environment["ARENA_PARTITIONS"] == str(Settings().partitions), name
        assert environment["ARENA_APP_ID"] == app_id, name
        assert environment["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092", name
    assert services["topics"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert services["simulation"]["depends_on"]["worker"]["condition"] == "service_healthy"


def test_the_project_s_services_run_the_image_built_from_the_dockerfile() -> None:
    services = _spec()["services"]
    for name in ("topics", "worker", "simulation"):
        service = services[name]
        assert _default_of(service["image"]) == "arena-ledger:latest", name
        assert service["image"].startswith("${ARENA_IMAGE:-"), name
        assert service["build"]["context"] == ".", name
        assert _default_of(service["build"]["args"]["PYTHON_IMAGE"]) == DEFAULT_PYTHON_IMAGE, name
        assert "volumes" not in service or all(not v.startswith(".:") for v in service["volumes"]), name
        assert "pip install" not in str(service.get("command", "")), name


def test_workers_can_be_scaled_and_answer_their_health_check_with_the_token() -> None:
    worker = _spec()["services"]["worker"]
    assert "container_name" not in worker and "ports" not in worker  # `--scale worker=2` must not clash
    environment = worker["environment"]
    assert environment["ARENA_WEB_BIND"] == "0.0.0.0"
    assert _default_of(environment["ARENA_WEB_TOKEN"])  # a wildcard bind without a token is refused
    assert worker["healthcheck"]["test"] == ["CMD", "python3", HEALTHCHECK_IN_IMAGE]


def test_the_simulation_is_the_main_job_on_the_compose_workers_then_the_audit() -> None:
    simulation = _spec()["services"]["simulation"]
    script = "\n".join(simulation["command"])
    assert simulation["entrypoint"][:2] == ["sh", "-ec"]
    assert re.search(r"^arena run --external-workers --days 30\b", script, flags=re.MULTILINE)
    assert re.search(r"^arena audit$", script, flags=re.MULTILINE)
    assert simulation["healthcheck"] == {"disable": True}


def test_compose_file_publishes_kafka_on_loopback_only() -> None:
    spec = _spec()
    assert all(port.startswith("127.0.0.1:") for port in spec["services"]["kafka"]["ports"])
    published = [name for name, service in spec["services"].items() if name != "kafka" and "ports" in service]
    assert published == []


@pytest.mark.skipif(_compose_command() is None, reason="neither `docker compose` nor `docker-compose` is installed")
def test_docker_compose_config_accepts_the_file() -> None:
    command = _compose_command()
    assert command is not None
    done = subprocess.run([*command, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_compose_runs_the_kafka_release_the_launcher_defaults_to() -> None:
    image = _spec()["services"]["kafka"]["image"]
    assert image.startswith("${KAFKA_IMAGE:-")  # replaceable: container/smoke.sh runs a locally built one
    assert _default_of(image) == f"apache/kafka:{DEFAULT_KAFKA_VERSION}"


def test_the_dockerfile_builds_on_a_replaceable_python_and_runs_arena_as_a_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    assert f"ARG PYTHON_IMAGE={DEFAULT_PYTHON_IMAGE}\n" in text
    assert re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert "-c constraints.txt" in text  # the pinned set, at build time
    assert re.search(r"^USER arena$", text, flags=re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["arena"\]$', text, flags=re.MULTILINE)
    assert f'CMD ["python3", "{HEALTHCHECK_IN_IMAGE}"]' in text
    assert f"COPY container/healthcheck.py {HEALTHCHECK_IN_IMAGE}" in text
    # The default base runs the Python the project needs.
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert DEFAULT_PYTHON_IMAGE == "python:3.11-slim" and ">=3.11" in requires


def test_the_constraints_pin_every_runtime_dependency() -> None:
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    names = {re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-") for requirement in wanted}
    assert names - pinned == set()


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
