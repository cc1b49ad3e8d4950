"""The Docker smoke test (container/smoke.sh): images built here, docker-compose.yml run to a passed audit
with two workers, and the testcontainers fixture on the broker smoke tests.

Opt-in, `ARENA_DOCKER_TESTS=1`: it needs root or a Docker daemon, builds a Debian base with debootstrap
the first time, and a first run takes many minutes on a 2-core machine (README, "Docker"), so `make test`
and CI leave it out.

    ARENA_DOCKER_TESTS=1 .venv/bin/pytest tests/docker -m docker
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "container" / "smoke.sh"

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(
        os.environ.get("ARENA_DOCKER_TESTS") != "1", reason="the Docker smoke test runs with ARENA_DOCKER_TESTS=1"
    ),
]


@pytest.mark.timeout(5400)
def test_images_build_here_and_compose_runs_the_arena_to_a_passed_audit(tmp_path: Path) -> None:
    smoke_dir = Path(os.environ.get("SMOKE_DIR") or tmp_path)
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        env={**os.environ, "SMOKE_DIR": str(smoke_dir)},
        capture_output=True,
        text=True,
        timeout=5300,
        check=False,
    )
    report = f"{done.stderr[-6000:]}\n(logs in {smoke_dir})"
    assert done.returncode == 0, report
    timings = (smoke_dir / "timings.txt").read_text()
    for step in ("daemon", "base", "python", "kafka-image", "image", "compose", "testcontainers"):
        assert any(line.startswith(step) and line.rstrip().endswith("ok") for line in timings.splitlines()), timings
    assert "AUDIT PASSED" in (smoke_dir / "simulation.log").read_text()
    assert "0 alert(s)" in (smoke_dir / "alerts.txt").read_text()
