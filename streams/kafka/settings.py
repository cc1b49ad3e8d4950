"""Pipeline settings from the environment, in one place, with secrets kept out of every printout.

Every client the project creates (confluent-kafka producers, consumers and admin clients, and the
Faust worker) is configured from one `Settings`, so a cluster's address, topic names and security
settings are set once. Environment variables are the interface because engines, CI and Docker
Compose all set them easily; CLI flags override them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
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


DEFAULT_APP_ID = "arena-ledger"


def ledger_app_id_of(app_id: str) -> str:
    """The ledger processor's app id and consumer group, for a worker whose app id is `app_id`."""
    return f"{app_id}-ledger"


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """How a worker runs: its identity, its state directory, its timing and its failure bounds."""

    app_id: str = DEFAULT_APP_ID  # the Faust app id and consumer group; names the changelog topics
    datadir: Path = Path(".arena/worker")
    web_port: int | None = None  # None: no web server
    # Loopback unless asked: the endpoints show every arena's money, so exposing them is a decision.
    web_bind: str = "127.0.0.1"
    # Required on any other bind and then checked on every request; kept out of repr() and logs.
    web_token: str | None = field(default=None, repr=False)
    # The address other workers and clients reach this one at (routed queries); None: derived from the bind.
    web_url: str | None = None
    commit_interval_s: float = 1.0
    producer_linger_s: float = 0.02  # a command becomes ~5 records: let them share produce requests
    # How soon a dead worker's partitions move on: Faust's 60 s default makes every failover a minute.
    session_timeout_s: float = 10.0
    # A worker with committed records waiting and no progress for this long exits (worker/stall_watchdog.py).
    stall_timeout_s: float = 60.0
    # How long a stopping or crashed worker may take before the process ends anyway (eos/fatal_exit.py).
    exit_grace_s: float = 15.0
    eos_trace: bool = False  # log every unit and commit of the exactly-once layer
    # A unit of work is a batch of at most `batch_max` messages, gathered for at most `batch_within_s`:
    # big batches under load (each changed row written once per batch), a lone command still goes through
    # within `batch_within_s`.
    batch_max: int = 500
    batch_within_s: float = 0.02
    # Which processors this worker runs: "all" (both, in one process), "commands" or "ledger".
    role: str = "all"

    @property
    def ledger_app_id(self) -> str:
        """The ledger processor's own Faust app id and consumer group (its tables are named so that their
        changelog topics are `<app id>-ledger-heads-changelog` and `<app id>-ledger-accounts-changelog`)."""
        return ledger_app_id_of(self.app_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerSettings:
        base = cls()
        port = env.get("ARENA_WEB_PORT")
        return cls(
            app_id=env.get("ARENA_APP_ID") or base.app_id,
            datadir=Path(env.get("ARENA_WORKER_DATADIR") or base.datadir),
            web_port=_port(port) if port else None,
            web_bind=env.get("ARENA_WEB_BIND") or base.web_bind,
            web_token=env.get("ARENA_WEB_TOKEN") or None,
            web_url=(env.get("ARENA_WEB_URL") or "").rstrip("/") or None,
            commit_interval_s=_positive_float(env, "ARENA_COMMIT_INTERVAL_S", base.commit_interval_s),
            producer_linger_s=_positive_float(env, "ARENA_PRODUCER_LINGER_S", base.producer_linger_s, zero=True),
            session_timeout_s=_positive_float(env, "ARENA_SESSION_TIMEOUT_S", base.session_timeout_s),
            stall_timeout_s=_positive_float(env, "ARENA_STALL_TIMEOUT_S", base.stall_timeout_s),
            exit_grace_s=_positive_float(env, "ARENA_EXIT_GRACE_S", base.exit_grace_s),
            eos_trace=env.get("ARENA_EOS_TRACE") == "1",
            batch_max=_positive_int(env, "ARENA_BATCH_MAX", base.batch_max),
            batch_within_s=_positive_float(env, "ARENA_BATCH_WITHIN_S", base.batch_within_s),
            role=_role(env.get("ARENA_WORKER_ROLE") or base.role),
        )

    def to_env(self) -> dict[str, str]:
        env = {
            "ARENA_APP_ID": self.app_id,
            "ARENA_WORKER_DATADIR": str(self.datadir),
            "ARENA_COMMIT_INTERVAL_S": str(self.commit_interval_s),
            "ARENA_PRODUCER_LINGER_S": str(self.producer_linger_s),
            "ARENA_SESSION_TIMEOUT_S": str(self.session_timeout_s),
            "ARENA_STALL_TIMEOUT_S": str(self.stall_timeout_s),
            "ARENA_EXIT_GRACE_S": str(self.exit_grace_s),
            "ARENA_BATCH_MAX": str(self.batch_max),
            "ARENA_BATCH_WITHIN_S": str(self.batch_within_s),
            "ARENA_WORKER_ROLE": self.role,
        }
        if self.web_port is not None:
            env["ARENA_WEB_PORT"] = str(self.web_port)
        env["ARENA_WEB_BIND"] = self.web_bind
        if self.web_token is not None:
            env["ARENA_WEB_TOKEN"] = self.web_token
        if self.web_url is not None:
            env["ARENA_WEB_URL"] = self.web_url
        if self.eos_trace:
            env["ARENA_EOS_TRACE"] = "1"
        return env

    @property
    def web_loopback(self) -> bool:
        """True when the web endpoints listen on a loopback address only (127.0.0.0/8, ::1, localhost)."""
        return _is_loopback(self.web_bind)

    def web_exposure_problem(self) -> str | None:
        """Why this web configuration must not start, or None: a non-loopback bind needs a token."""
        if self.web_port is None or self.web_loopback or self.web_token:
            return None
        return (
            f"ARENA_WEB_BIND={self.web_bind} exposes the worker's endpoints beyond this machine: set ARENA_WEB_TOKEN "
            "(clients send it as 'Authorization: Bearer <token>'), or bind 127.0.0.1"
        )

    def advertised_web_url(self) -> str:
        """The URL other workers route queries to: ARENA_WEB_URL, else the bind address (the host name when
        bound to every interface)."""
        if self.web_url is not None:
            return self.web_url
        host = self.web_bind
        if host in {"0.0.0.0", "::", ""}:  # noqa: S104 - a wildcard bind is advertised by host name
            host = socket.gethostname()
        elif ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.web_port or 6066}"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


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
    worker: WorkerSettings = field(default_factory=WorkerSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every environment variable the project reads, read here (the README's configuration table)."""
        source = os.environ if env is None else env
        security = {prop: source[var] for var, prop in _SECURITY_ENV.items() if source.get(var)}
        return cls(
            bootstrap=source.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            topics=TopicNames.from_env(source),
            partitions=_positive_int(source, "ARENA_PARTITIONS", 4),
            replication=_optional_positive_int(source, "ARENA_REPLICATION_FACTOR"),
            security=security,
            worker=WorkerSettings.from_env(source),
        )

    def to_env(self) -> dict[str, str]:
        """The environment that gives another process these settings (a worker started as a child)."""
        if self.bootstrap is None:
            raise RuntimeError("resolve the cluster before handing the settings to another process")
        security = {var: self.security[prop] for var, prop in _SECURITY_ENV.items() if prop in self.security}
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "ARENA_TOPIC_COMMANDS": self.topics.commands,
            "ARENA_TOPIC_EVENTS": self.topics.events,
            "ARENA_TOPIC_ALERTS": self.topics.alerts,
            "ARENA_TOPIC_DLQ": self.topics.dlq,
            "ARENA_PARTITIONS": str(self.partitions),
            **({"ARENA_REPLICATION_FACTOR": str(self.replication)} if self.replication is not None else {}),
            **security,
            **self.worker.to_env(),
        }

    def with_worker(self, **changes: Any) -> Settings:  # noqa: ANN401 - WorkerSettings' fields
        return replace(self, worker=replace(self.worker, **changes))

    def with_bootstrap(self, bootstrap: str) -> Settings:
        return replace(self, bootstrap=bootstrap)

    def client_config(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A confluent-kafka config: bootstrap + security + the caller's own settings (which win)."""
        if self.bootstrap is None:
            raise RuntimeError("no bootstrap servers: resolve the cluster (streams.broker.cluster) before connecting")
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


def _positive_float(env: Mapping[str, str], name: str, default: float, *, zero: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < 0 or (value == 0 and not zero) or value != value:  # noqa: PLR0124 - NaN is not equal to itself
        raise ValueError(f"{name} must be a {'non-negative' if zero else 'positive'} number of seconds, got {raw!r}")
    return value


ROLES = ("all", "commands", "ledger")


def _role(raw: str) -> str:
    if raw not in ROLES:
        raise ValueError(f"ARENA_WORKER_ROLE must be one of {', '.join(ROLES)}, got {raw!r}")
    return raw


def _port(raw: str) -> int:
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"ARENA_WEB_PORT must be a port number, got {raw!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"ARENA_WEB_PORT must be a port number, got {raw!r}")
    return port


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
