"""Configuration is read in one place and documented in one table."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"\"((?:ARENA|KAFKA)_[A-Z_]+)\"")
# The local broker launcher reads its own home and pom before any Settings exist (it may start the
# cluster Settings point at); everything else goes through streams/kafka/settings.py.
READERS = {ROOT / "streams" / "kafka" / "settings.py", ROOT / "streams" / "broker" / "launcher.py"}


def _sources() -> list[Path]:
    return sorted((ROOT / "streams").rglob("*.py")) + sorted((ROOT / "producers").rglob("*.py"))


def test_only_the_settings_read_the_environment() -> None:
    readers = {path for path in _sources() if re.search(r"os\.environ\.get|os\.getenv|environ\[", path.read_text())}
    assert readers <= READERS, sorted(str(p.relative_to(ROOT)) for p in readers - READERS)


def test_every_variable_the_project_reads_is_in_the_readme_table() -> None:
    table = (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`((?:ARENA|KAFKA)_[A-Z_]+)`", table))
    read = {name for path in READERS for name in VARIABLE.findall(path.read_text())}
    assert read - documented == set()
