"""Decoding commands: what is a dead letter and what reaches the core."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.commands import (
    COMMAND_TYPES,
    MAX_COMMAND_BYTES,
    CommandDecodeError,
    DecodeReason,
    encode_command,
    parse_command,
)
from schemas.money import MAX_MINOR, RequestedMoney

BASE: dict[str, Any] = {"command_id": "c-1", "arena_id": "arena-1", "issued_at": 1}

SAMPLES: dict[str, dict[str, Any]] = {
    "CreateArena": {"currency": "EUR", "seed": 3},
    "FundArena": {"amount": {"amount": 10, "currency": "EUR"}},
    "WithdrawFunds": {"amount": {"amount": 10, "currency": "EUR"}},
    "SpawnAgent": {"agent_id": "a-1", "genome": {"x": 1}, "tier": "proving"},
    "AllocateCapital": {"agent_id": "a-1", "amount": {"amount": 10, "currency": "EUR"}},
    "ReleaseCapital": {"agent_id": "a-1", "amount": {"amount": 10, "currency": "EUR"}},
    "RecordPnL": {
        "agent_id": "a-1",
        "amount": {"amount": -5, "currency": "EUR"},
        "period": 3,
        "source": "trading",
        "fill_ref": "f",
    },
    "KillAgent": {"agent_id": "a-1", "reason": "bad"},
    "GraduateAgent": {"agent_id": "a-1"},
    "MutateAgent": {"parent_id": "a-1", "child_id": "a-2", "seed": 9, "genome_delta": {"x": -1}},
    "RunEvolutionCycle": {"cycle": 1},
}


def _raw(type_: str, **overrides: Any) -> bytes:
    return json.dumps({**BASE, "type": type_, **SAMPLES[type_], **overrides}).encode()


def _reason(raw: bytes) -> DecodeReason:
    with pytest.raises(CommandDecodeError) as caught:
        parse_command(raw)
    return caught.value.reason


def test_samples_cover_every_command_type() -> None:
    assert set(SAMPLES) == set(COMMAND_TYPES)


@pytest.mark.parametrize("type_", COMMAND_TYPES)
def test_every_command_round_trips_through_the_wire(type_: str) -> None:
    command = parse_command(_raw(type_, correlation_id="corr", expected_seq=4))
    assert command.type == type_
    assert parse_command(encode_command(command)) == command


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe{}", DecodeReason.NOT_UTF8),
        (b'{"type": "FundArena", "reason": "\xe9"}', DecodeReason.NOT_UTF8),
        (b"{not json", DecodeReason.INVALID_JSON),
        (b"", DecodeReason.INVALID_JSON),
        (b"[1, 2]", DecodeReason.NOT_AN_OBJECT),
        (b'"FundArena"', DecodeReason.NOT_AN_OBJECT),
        (b'{"command_id": "x"}', DecodeReason.MISSING_TYPE),
        (b'{"type": "Teleport"}', DecodeReason.UNKNOWN_TYPE),
        (b'{"type": 7}', DecodeReason.UNKNOWN_TYPE),
        (b" " * (MAX_COMMAND_BYTES + 1), DecodeReason.TOO_LARGE),
    ],
)
def test_malformed_messages_get_a_machine_readable_reason(raw: bytes, reason: DecodeReason) -> None:
    assert _reason(raw) == reason


@pytest.mark.parametrize(
    "amount",
    [1.0, 1.5, True, "10", None, [10]],
)
def test_money_of_the_wrong_type_is_a_decode_error(amount: Any) -> None:
    raw = _raw("FundArena", amount={"amount": amount, "currency": "EUR"})
    assert _reason(raw) == DecodeReason.SCHEMA_VIOLATION


@pytest.mark.parametrize("amount", [1.0, True, "5"])
def test_pnl_of_the_wrong_type_is_a_decode_error(amount: Any) -> None:
    assert _reason(_raw("RecordPnL", amount={"amount": amount, "currency": "EUR"})) == DecodeReason.SCHEMA_VIOLATION
    assert _reason(_raw("RecordPnL", amount=amount, currency="EUR")) == DecodeReason.SCHEMA_VIOLATION  # v1 form


@pytest.mark.parametrize("version", [None, 1])
def test_a_pnl_with_a_bare_amount_is_read_as_record_pnl_v1(version: int | None) -> None:
    """Senders written before command versions put a bare signed integer beside a currency."""
    legacy = {"amount": -5, "currency": "EUR"} | ({} if version is None else {"schema_version": version})
    command = parse_command(_raw("RecordPnL", **legacy))
    assert command == parse_command(_raw("RecordPnL", schema_version=2))
    assert command.amount == RequestedMoney(amount=-5, currency="EUR")  # type: ignore[union-attr]
    assert command.schema_version == 2


@pytest.mark.parametrize(
    ("type_", "overrides"),
    [
        ("RecordPnL", {"schema_version": 3}),
        ("FundArena", {"schema_version": 2}),
        ("GraduateAgent", {"schema_version": 99}),
    ],
)
def test_a_command_newer_than_the_reader_is_an_unknown_version(type_: str, overrides: dict[str, Any]) -> None:
    assert _reason(_raw(type_, **overrides)) == DecodeReason.UNKNOWN_VERSION


def test_a_declared_version_must_match_the_shape() -> None:
    assert _reason(_raw("RecordPnL", schema_version=1)) == DecodeReason.SCHEMA_VIOLATION  # v1 had a bare amount
    assert _reason(_raw("RecordPnL", amount=-5, currency="EUR", schema_version=2)) == DecodeReason.SCHEMA_VIOLATION


@pytest.mark.parametrize("amount", [0, -1, MAX_MINOR, MAX_MINOR + 1, 2**53, 10**30, -(10**30)])
def test_well_typed_amounts_of_any_size_reach_the_core(amount: int) -> None:
    command = parse_command(_raw("FundArena", amount={"amount": amount, "currency": "EUR"}))
    assert command.amount.amount == amount  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "overrides",
    [
        {"extra_field": 1},
        {"command_id": ""},
        {"command_id": "x" * 129},
        {"arena_id": "-leading-dash"},
        {"arena_id": "has space"},
        {"issued_at": -1},
        {"issued_at": 1.0},
        {"issued_at": MAX_MINOR + 1},
        {"expected_seq": -1},
        {"correlation_id": ""},
    ],
)
def test_envelope_fields_out_of_shape_are_decode_errors(overrides: dict[str, Any]) -> None:
    assert _reason(_raw("GraduateAgent", **overrides)) == DecodeReason.SCHEMA_VIOLATION


@pytest.mark.parametrize(
    ("type_", "overrides"),
    [
        ("FundArena", {"amount": {"amount": 1, "currency": "eur"}}),
        ("SpawnAgent", {"tier": "heaven"}),
        ("SpawnAgent", {"genome": {"x": 1.5}}),
        ("SpawnAgent", {"genome": {"x": "1"}}),
        ("SpawnAgent", {"genome": [1, 2]}),
        ("RecordPnL", {"source": "rumour"}),
        ("RunEvolutionCycle", {"cycle": 0}),
        ("MutateAgent", {"seed": -1}),
        ("CreateArena", {"seed": 2**53}),
        ("CreateArena", {"tier_policy": {"incubator": {"max_agents": 1.0, "max_allocation": 1, "budget_bps": 1}}}),
    ],
)
def test_wrong_types_inside_commands_are_decode_errors(type_: str, overrides: dict[str, Any]) -> None:
    assert _reason(_raw(type_, **overrides)) == DecodeReason.SCHEMA_VIOLATION


@pytest.mark.parametrize(
    "genome",
    [{f"g{i}": 1 for i in range(40)}, {"Not_Valid": 1}, {"x": 10**30}],
)
def test_well_typed_but_invalid_genomes_reach_the_core(genome: dict[str, int]) -> None:
    command = parse_command(_raw("SpawnAgent", genome=genome))
    assert command.genome == genome  # type: ignore[union-attr]


def test_policy_numbers_out_of_range_reach_the_core() -> None:
    policy = {"incubator": {"max_agents": -5, "max_allocation": 0, "budget_bps": 99_999}}
    command = parse_command(_raw("CreateArena", tier_policy=policy))
    assert command.tier_policy.incubator.max_agents == -5  # type: ignore[union-attr]


def test_decode_error_message_names_the_field() -> None:
    with pytest.raises(CommandDecodeError) as caught:
        parse_command(_raw("FundArena", amount={"amount": 1.5, "currency": "EUR"}))
    assert "amount.amount" in caught.value.message


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(
    ("type_", "template"),
    [
        ("FundArena", '"amount": {{"amount": {token}, "currency": "EUR"}}'),
        ("GraduateAgent", '"agent_id": "a-1", "expected_seq": {token}'),
        ("SpawnAgent", '"agent_id": "a-1", "genome": {{"x": {token}}}'),
    ],
    ids=["money", "envelope", "genome"],
)
def test_non_finite_number_tokens_are_not_json(type_: str, template: str, token: str) -> None:
    """RFC 8259 has no NaN or Infinity: a message carrying one is not JSON, whatever field it sits in."""
    raw = (
        f'{{"command_id": "c-1", "arena_id": "arena-1", "issued_at": 1, "type": "{type_}", '
        + template.format(token=token)
        + "}"
    ).encode()
    assert _reason(raw) == DecodeReason.INVALID_JSON


def test_the_words_nan_and_infinity_inside_strings_are_ordinary_text() -> None:
    command = parse_command(_raw("KillAgent", reason="NaN returns, Infinity drawdown"))
    assert command.reason == "NaN returns, Infinity drawdown"  # type: ignore[union-attr]
