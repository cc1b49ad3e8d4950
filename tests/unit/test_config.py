"""Settings come from the environment, reject nonsense early, and never print a secret."""

from __future__ import annotations

import pytest

from streams.kafka.settings import Settings, redact


def test_settings_read_bootstrap_topics_partitions_and_security_from_the_environment() -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
        "ARENA_TOPIC_EVENTS": "prod.arena.events",
        "ARENA_PARTITIONS": "12",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "ledger",
        "KAFKA_SASL_PASSWORD": "s3cret",
    }
    settings = Settings.from_env(env)
    assert settings.bootstrap == "k1:9092,k2:9092"
    assert settings.topics.events == "prod.arena.events"
    assert settings.topics.commands == "arena.commands"
    assert settings.partitions == 12
    config = settings.client_config({"group.id": "g"})
    assert config["sasl.password"] == "s3cret"
    assert config["security.protocol"] == "SASL_SSL"
    assert config["group.id"] == "g"


def test_secrets_never_appear_in_printable_settings() -> None:
    settings = Settings.from_env({"KAFKA_SASL_PASSWORD": "s3cret", "KAFKA_SSL_KEY_PASSWORD": "k3y"})
    assert "s3cret" not in repr(settings)
    assert "k3y" not in str(settings.redacted())
    assert redact({"sasl.password": "x", "sasl.username": "u"}) == {"sasl.password": "***", "sasl.username": "u"}


@pytest.mark.parametrize("bad", ["0", "-3", "four", "1.5"])
def test_a_bad_partition_count_is_rejected_with_the_variable_name(bad: str) -> None:
    with pytest.raises(ValueError, match="ARENA_PARTITIONS"):
        Settings.from_env({"ARENA_PARTITIONS": bad})


def test_client_config_without_a_cluster_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(RuntimeError, match="no bootstrap servers"):
        Settings().client_config()


def test_prefixed_topic_names_isolate_every_topic() -> None:
    topics = Settings().topics.with_prefix("t1-")
    assert {topics.commands, topics.events, topics.alerts, topics.dlq} == {
        "t1-arena.commands",
        "t1-arena.events",
        "t1-arena.alerts",
        "t1-arena.commands.dlq",
    }
