"""Why a command was refused: a reason code, and the one kind of error each reason belongs to.

The kind is the category of the rule that was broken, not the command that broke it:

* ``ValidationError``: the request itself is unacceptable (amount out of range, wrong currency,
  unknown or existing arena, stale ``expected_seq``, a fill already recorded).
* ``AllocationError``: capital is not where the request needs it (treasury short, tier limit,
  agent balance short). ``WithdrawFunds`` beyond the treasury is one too: allocated capital has to
  be released before it can leave the arena.
* ``CapitalConservationError``: accepting would break the ledger invariants (a loss bigger than the
  agent's balance would make an account negative; the core's own post-decision check failed).
* ``AgentError``: the agent does not exist, already exists, or is no longer alive.
* ``EvolutionError``: genomes, parents and cycle ordering.
* ``GraduationError``: tier capacity and promotion thresholds.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ErrorKind(StrEnum):
    AllocationError = "AllocationError"
    CapitalConservationError = "CapitalConservationError"
    ValidationError = "ValidationError"
    AgentError = "AgentError"
    EvolutionError = "EvolutionError"
    GraduationError = "GraduationError"


class Reason(StrEnum):
    ARENA_EXISTS = "ARENA_EXISTS"
    ARENA_NOT_FOUND = "ARENA_NOT_FOUND"
    INVALID_POLICY = "INVALID_POLICY"
    AMOUNT_OUT_OF_RANGE = "AMOUNT_OUT_OF_RANGE"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    SEQ_MISMATCH = "SEQ_MISMATCH"
    DUPLICATE_FILL = "DUPLICATE_FILL"
    INSUFFICIENT_TREASURY = "INSUFFICIENT_TREASURY"
    OVER_TIER_LIMIT = "OVER_TIER_LIMIT"
    INSUFFICIENT_AGENT_BALANCE = "INSUFFICIENT_AGENT_BALANCE"
    LOSS_EXCEEDS_BALANCE = "LOSS_EXCEEDS_BALANCE"
    CONSERVATION_VIOLATED = "CONSERVATION_VIOLATED"
    AGENT_EXISTS = "AGENT_EXISTS"
    AGENT_NOT_FOUND = "AGENT_NOT_FOUND"
    AGENT_NOT_ALIVE = "AGENT_NOT_ALIVE"
    INVALID_GENOME = "INVALID_GENOME"
    PARENT_NOT_ALIVE = "PARENT_NOT_ALIVE"
    CYCLE_OUT_OF_ORDER = "CYCLE_OUT_OF_ORDER"
    TIER_FULL = "TIER_FULL"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"


KIND_OF: Final[dict[Reason, ErrorKind]] = {
    Reason.ARENA_EXISTS: ErrorKind.ValidationError,
    Reason.ARENA_NOT_FOUND: ErrorKind.ValidationError,
    Reason.INVALID_POLICY: ErrorKind.ValidationError,
    Reason.AMOUNT_OUT_OF_RANGE: ErrorKind.ValidationError,
    Reason.CURRENCY_MISMATCH: ErrorKind.ValidationError,
    Reason.SEQ_MISMATCH: ErrorKind.ValidationError,
    Reason.DUPLICATE_FILL: ErrorKind.ValidationError,
    Reason.INSUFFICIENT_TREASURY: ErrorKind.AllocationError,
    Reason.OVER_TIER_LIMIT: ErrorKind.AllocationError,
    Reason.INSUFFICIENT_AGENT_BALANCE: ErrorKind.AllocationError,
    Reason.LOSS_EXCEEDS_BALANCE: ErrorKind.CapitalConservationError,
    Reason.CONSERVATION_VIOLATED: ErrorKind.CapitalConservationError,
    Reason.AGENT_EXISTS: ErrorKind.AgentError,
    Reason.AGENT_NOT_FOUND: ErrorKind.AgentError,
    Reason.AGENT_NOT_ALIVE: ErrorKind.AgentError,
    Reason.INVALID_GENOME: ErrorKind.EvolutionError,
    Reason.PARENT_NOT_ALIVE: ErrorKind.EvolutionError,
    Reason.CYCLE_OUT_OF_ORDER: ErrorKind.EvolutionError,
    Reason.TIER_FULL: ErrorKind.GraduationError,
    Reason.NOT_ELIGIBLE: ErrorKind.GraduationError,
}


def kind_of(reason: Reason) -> ErrorKind:
    return KIND_OF[reason]
