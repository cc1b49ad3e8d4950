"""Each refusal is filed under the error kind whose name says what happened."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
import pytest

from schemas.events import decode_event_with_digest
from schemas.rejections import ErrorKind, Reason, kind_of
from schemas.upcasting import current_version
from streams.domain import Outcome
from tests.support.builders import arena, money, with_agents


def _kind(outcome: Outcome) -> tuple[str, ErrorKind]:
    (event,) = outcome.events
    payload: Any = event.payload
    return payload.reason.value, payload.error_kind


def test_withdrawing_more_than_the_treasury_is_insufficient_funds_not_an_allocation() -> None:
    h = arena(funded=1_000)
    assert _kind(h.do("WithdrawFunds", amount=money(1_001))) == (
        "INSUFFICIENT_TREASURY",
        ErrorKind.InsufficientFundsError,
    )


def test_allocating_more_than_the_treasury_is_still_an_allocation_error() -> None:
    h = with_agents(arena(funded=1_000), "a")
    assert _kind(h.do("AllocateCapital", agent_id="a", amount=money(1_001))) == (
        "INSUFFICIENT_TREASURY",
        ErrorKind.AllocationError,
    )


def test_a_loss_beyond_the_agent_s_balance_is_insufficient_funds_not_a_conservation_error() -> None:
    h = with_agents(arena(), "a", allocate=100)
    out = h.do("RecordPnL", agent_id="a", amount=money(-101), period=1, source="trading")
    assert _kind(out) == ("LOSS_EXCEEDS_BALANCE", ErrorKind.InsufficientFundsError)


def test_a_full_tier_is_filed_under_what_the_command_tried_to_do() -> None:
    h = with_agents(arena(), "a", "b", "c", "d")  # the incubator of small_policies holds 4
    assert _kind(h.do("SpawnAgent", agent_id="e", genome={})) == ("TIER_FULL", ErrorKind.AgentError)
    assert _kind(h.do("MutateAgent", parent_id="a", child_id="k", seed=1)) == ("TIER_FULL", ErrorKind.EvolutionError)


def test_only_the_core_s_own_failed_check_is_a_conservation_error() -> None:
    conservation = [(c, r) for c in _COMMANDS for r in Reason if kind_of(c, r) is ErrorKind.CapitalConservationError]
    assert {reason for _, reason in conservation} == {Reason.CONSERVATION_VIOLATED}


_COMMANDS = (
    "CreateArena",
    "FundArena",
    "WithdrawFunds",
    "SpawnAgent",
    "AllocateCapital",
    "ReleaseCapital",
    "RecordPnL",
    "KillAgent",
    "GraduateAgent",
    "MutateAgent",
    "RunEvolutionCycle",
)


def test_every_reason_has_a_kind_for_every_command_and_every_kind_is_used() -> None:
    kinds = {kind_of(command, reason) for command in _COMMANDS for reason in Reason}
    assert kinds == set(ErrorKind)


@pytest.mark.parametrize("event_type", ["CommandRejected", "AllocationError"])
def test_rejections_written_before_the_review_are_read_with_the_reviewed_kind(event_type: str) -> None:
    h = with_agents(arena(funded=1_000), "a")
    if event_type == "CommandRejected":
        outcome = h.do("WithdrawFunds", amount=money(5_000))
    else:
        outcome = h.do("AllocateCapital", agent_id="a", amount=money(5_000))
    (current,) = outcome.events
    doc = current.model_dump(mode="json")
    doc["schema_version"] = 1
    doc["payload"]["error_kind"] = "AllocationError"  # what the v1 writer filed both under
    del doc["hash"]
    doc["hash"] = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()

    event, digest = decode_event_with_digest(orjson.dumps(doc))
    assert digest == event.hash, "the hash is verified over the bytes as written"
    assert event.schema_version == current_version(event_type) == 2
    assert event.payload == current.payload
