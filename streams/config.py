"""Pipeline settings from the environment, in one place, with secrets kept out of every printout.

Every client the project creates (confluent-kafka producers, consumers and admin clients, and the
Faust worker) is configured from one `Settings`, so a cluster's address, topic names and security
settings are set once. Environment variables are the interface because engines, CI and Docker
Compose all set them easily; CLI flags override them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

SECRET_KEYS = frozenset({"sasl.password", "ssl.key.password", "ssl.keystore.password"})
_REDACTED = "***"

# Environment variable → librdkafka property, for the security settings passed through to clients.
_SECURITY_ENV: Mapping[str, str] = {
    "KAFKA_SECURITY_PROTOCOL": "security.protocol",
    "KAFKA_SASL_MECHANISM": "sasl.mechanism",
    "KAFKA_SASL_USERNAME": "sasl.username",
    "KAFKA_SASL_PASSWORD": "sasl.password",
    "KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
    "KAFKA_SSL_CERTIFICATE_LOCATION": "ssl.certificate.location",
    "KAFKA_SSL_KEY_LOCATION": "ssl.key.location",
    "KAFKA_SSL_KEY_PASSWORD": "ssl.key.password",
}


@dataclass(frozen=True, slots=True)
class TopicNames:
    commands: str = "arena.commands"
    events: str = "arena.events"
    alerts: str = "arena.alerts"
    dlq: str = "arena.commands.dlq"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TopicNames:
        base = cls()
        return cls(
            commands=env.get("ARENA_TOPIC_COMMANDS", base.commands),
            events=env.get("ARENA_TOPIC_EVENTS", base.events),
            alerts=env.get("ARENA_TOPIC_ALERTS", base.alerts),
            dlq=env.get("ARENA_TOPIC_DLQ", base.dlq),
        )

    def with_prefix(self, prefix: str) -> TopicNames:
        """Isolated names, so tests and benchmarks sharing one broker never see each other's data."""
        return TopicNames(
            commands=f"{prefix}{self.commands}",
            events=f"{prefix}{self.events}",
            alerts=f"{prefix}{self.alerts}",
            dlq=f"{prefix}{self.dlq}",
        )


@dataclass(frozen=True, slots=True)
class Settings:
    """Where the cluster is and how to talk to it. `bootstrap` None means "use the local broker"."""

    bootstrap: str | None = None
    topics: TopicNames = field(default_factory=TopicNames)
    partitions: int = 4
    # None: the cluster's default.replication.factor and min.insync.replicas (streams/topics.py). A number
    # is a demand: a cluster with fewer brokers refuses it, and nothing is replicated less than asked.
    replication: int | None = None
    security: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        security = {prop: source[var] for var, prop in _SECURITY_ENV.items() if source.get(var)}
        return cls(
            bootstrap=source.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            topics=TopicNames.from_env(source),
            partitions=_positive_int(source, "ARENA_PARTITIONS", 4),
            replication=_optional_positive_int(source, "ARENA_REPLICATION_FACTOR"),
            security=security,
        )

    def with_bootstrap(self, bootstrap: str) -> Settings:
        return replace(self, bootstrap=bootstrap)

    def client_config(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A confluent-kafka config: bootstrap + security + the caller's own settings (which win)."""
        if self.bootstrap is None:
            raise RuntimeError("no bootstrap servers: resolve the cluster (streams.cluster) before connecting")
        config: dict[str, Any] = {"bootstrap.servers": self.bootstrap, **self.security}
        config.update(overrides or {})
        return config

    def redacted(self) -> dict[str, Any]:
        """What may be printed or written to a report: everything but the secrets."""
        return {
            "bootstrap": self.bootstrap,
            "topics": {
                "commands": self.topics.commands,
                "events": self.topics.events,
                "alerts": self.topics.alerts,
                "dlq": self.topics.dlq,
            },
            "partitions": self.partitions,
            "replication": "auto" if self.replication is None else self.replication,
            "security": redact(self.security),
        }

    def __repr__(self) -> str:
        return f"Settings({self.redacted()!r})"


def redact(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a client config with every secret value replaced, for logs and reports."""
    return {key: (_REDACTED if key in SECRET_KEYS else value) for key, value in config.items()}


def _optional_positive_int(env: Mapping[str, str], name: str) -> int | None:
    if not env.get(name):
        return None
    return _positive_int(env, name, 1)


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a positive whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {raw!r}")
    return value
