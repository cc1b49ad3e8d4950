"""The exported JSON Schemas say what a client in any language needs, and say it truly."""

from __future__ import annotations

import re
from typing import Any

import pytest

from schemas.events import ACCOUNT_PATTERN
from schemas.export import documents
from schemas.genome import GENE_MAX, GENE_MIN, GENE_NAME_PATTERN, MAX_GENES
from schemas.policies import EvolutionPolicy, GraduationThreshold, TierPolicies, TierPolicy
from streams.domain.accounts import is_known
from streams.domain.policy import policy_problem

COMMANDS = documents()["command.schema.json"]
EVENTS = documents()["event.schema.json"]


def _defs(schema: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = schema["$defs"][name]
    return found


def test_a_create_arena_without_policies_gets_the_defaults_the_schema_shows() -> None:
    create = _defs(COMMANDS, "CreateArena")["properties"]
    assert create["tier_policy"]["default"] == TierPolicies().model_dump(mode="json")
    assert create["evolution_policy"]["default"] == EvolutionPolicy().model_dump(mode="json")


def test_the_genome_rules_are_constraints_in_the_schema() -> None:
    genome = _defs(COMMANDS, "SpawnAgent")["properties"]["genome"]
    assert genome["maxProperties"] == MAX_GENES
    assert genome["propertyNames"]["pattern"] == GENE_NAME_PATTERN.pattern
    assert genome["additionalProperties"] == {"type": "integer", "minimum": GENE_MIN, "maximum": GENE_MAX}


def _bounded_fields(model: type[Any]) -> list[tuple[str, int, int]]:
    properties = model.model_json_schema()["properties"]
    return [(name, p["minimum"], p["maximum"]) for name, p in properties.items() if "minimum" in p]


def _policies_with(where: str, field: str, value: int) -> tuple[TierPolicies, EvolutionPolicy]:
    tiers, evolution = TierPolicies(), EvolutionPolicy()
    if where == "tier":
        tier = tiers.incubator.model_copy(update={field: value})
        if field == "max_agents":  # keep target_population within the tiers' capacity
            evolution = evolution.model_copy(update={"target_population": 0})
        others = {"budget_bps": 0} if field == "budget_bps" else {}  # keep the budgets' sum within 100 %
        return TierPolicies(
            incubator=tier, proving=tiers.proving.model_copy(update=others), arena=tiers.arena.model_copy(update=others)
        ), evolution
    if where == "threshold":
        return tiers, evolution.model_copy(
            update={"to_proving": evolution.to_proving.model_copy(update={field: value})}
        )
    if field == "target_population" and value > 0:
        return tiers, evolution  # bounded by the tiers' capacity too: checked on its own below
    return tiers, evolution.model_copy(update={field: value})


@pytest.mark.parametrize(
    ("where", "model"), [("tier", TierPolicy), ("threshold", GraduationThreshold), ("evolution", EvolutionPolicy)]
)
def test_every_policy_bound_in_the_schema_is_the_one_the_core_judges_by(where: str, model: type[Any]) -> None:
    bounded = _bounded_fields(model)
    assert bounded, f"{model.__name__} publishes no bounds"
    for field, low, high in bounded:
        if where == "evolution" and field == "target_population":
            continue
        assert policy_problem(*_policies_with(where, field, low)) is None, (field, low)
        assert policy_problem(*_policies_with(where, field, high)) is None, (field, high)
        assert policy_problem(*_policies_with(where, field, low - 1)) is not None, (field, low - 1)
        assert policy_problem(*_policies_with(where, field, high + 1)) is not None, (field, high + 1)


def test_issued_at_and_occurred_at_say_whose_time_they_are() -> None:
    issued = _defs(COMMANDS, "FundArena")["properties"]["issued_at"]["description"]
    occurred = EVENTS["properties"]["occurred_at"]["description"]
    assert "the command's time" in issued and "occurred_at" in issued
    assert "the event's time" in occurred and "issued_at" in occurred


@pytest.mark.parametrize(
    "account", ["external", "market", "treasury", "agent:a1", "agent:pop:7", "agent:", "offshore", "Treasury"]
)
def test_the_account_pattern_in_the_schema_names_exactly_the_accounts_the_book_knows(account: str) -> None:
    posting = _defs(EVENTS, "Posting")["properties"]
    assert posting["debit"]["pattern"] == posting["credit"]["pattern"] == ACCOUNT_PATTERN
    assert bool(re.fullmatch(ACCOUNT_PATTERN, account)) == is_known(account)


def test_pnl_is_money_like_every_other_amount() -> None:
    pnl_command = _defs(COMMANDS, "RecordPnL")["properties"]["amount"]
    fund_command = _defs(COMMANDS, "FundArena")["properties"]["amount"]
    assert pnl_command["$ref"] == fund_command["$ref"] == "#/$defs/RequestedMoney"
    assert "currency" not in _defs(COMMANDS, "RecordPnL")["properties"]
    pnl_event = _defs(EVENTS, "PnLRecorded")["properties"]
    assert pnl_event["amount"]["$ref"] == "#/$defs/SignedMoney" and "currency" not in pnl_event
