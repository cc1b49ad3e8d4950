"""Resolve the Apache Kafka broker's class path with Maven, from the project's own pom.xml.

The machine this runs on may have no Docker and no internet other than package registries, so the
broker comes from Maven Central as ordinary jars. Maven caches them in ~/.m2, and the resolved class
path is cached next to the broker's data so that a warm start does not pay Maven's start-up cost.

The pom pins the default version; another one is asked for with `-Dkafka.version`, and a 3.x version
also switches the logging backend to reload4j (Kafka 3 logs through the log4j 1 API, Kafka 4 through
log4j2), so one pom serves both lines.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from streams.broker.errors import BrokerError

_VERSION = re.compile(r"\d+\.\d+\.\d+(?:[-.][0-9A-Za-z.\-]+)?")
_KAFKA_JAR = re.compile(r"kafka_(?P<scala>\d+\.\d+)-(?P<version>[0-9][0-9A-Za-z.\-]*)\.jar$")


@dataclass(frozen=True, slots=True)
class ResolvedClasspath:
    """The jars to start the broker with and the Kafka version they carry."""

    entries: tuple[str, ...]
    kafka_version: str

    @property
    def joined(self) -> str:
        return ":".join(self.entries)


def maven_properties(version: str | None) -> list[str]:
    """The `-D` flags that select a Kafka version other than the pom's default, with its logging backend."""
    if version is None:
        return []
    if not _VERSION.fullmatch(version):
        raise BrokerError(f"KAFKA_VERSION must look like 4.4.0 or 3.9.1, got {version!r}")
    flags = [f"-Dkafka.version={version}"]
    if int(version.split(".")[0]) < 4:
        flags.append("-Dkafka.logging=reload4j")
    return flags


def resolve_classpath(
    pom: Path, cache_file: Path, *, version: str | None = None, timeout_s: float = 900.0
) -> ResolvedClasspath:
    """Return the broker class path, asking Maven only when the cached one is stale or broken.

    The cache is stale when the pom changed after it was written or when a jar it names has gone
    (a cleaned ~/.m2); in both cases Maven resolves again rather than starting a broken JVM. Each
    version asked for has a cache of its own (the caller names it).
    """
    flags = maven_properties(version)
    cached = _read_cache(pom, cache_file)
    if cached is not None and version in {None, cached.kafka_version}:
        return cached
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Maven (mvn) is not on PATH; it resolves Kafka from Maven Central. "
            "Install it (Debian: apt-get install maven) or set KAFKA_BOOTSTRAP_SERVERS to an existing cluster."
        )
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    log_file = cache_file.with_suffix(".maven.log")
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:build-classpath",
        f"-Dmdep.outputFile={cache_file}",
        *flags,
    ]
    with log_file.open("wb") as log:
        try:
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, timeout=timeout_s, check=False)  # noqa: S603
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(
                f"Maven did not resolve Kafka within {timeout_s:.0f}s; is Maven Central reachable?",
                log_path=log_file,
            ) from exc
    if done.returncode != 0 or not cache_file.exists():
        raise BrokerError(
            f"Maven could not resolve Kafka {version or '(the pom default)'} from {pom.name} "
            f"(exit {done.returncode}); see the Maven log",
            log_path=log_file,
        )
    resolved = _read_cache(pom, cache_file)
    if resolved is None:
        raise BrokerError(f"Maven wrote an unusable class path to {cache_file}", log_path=log_file)
    return resolved


def _read_cache(pom: Path, cache_file: Path) -> ResolvedClasspath | None:
    if not cache_file.exists() or cache_file.stat().st_mtime < pom.stat().st_mtime:
        return None
    entries = tuple(e for e in cache_file.read_text().strip().split(":") if e)
    if not entries or not all(Path(e).exists() for e in entries):
        return None
    for entry in entries:
        match = _KAFKA_JAR.search(Path(entry).name)
        if match:
            return ResolvedClasspath(entries=entries, kafka_version=match.group("version"))
    return None
