"""Why a command was refused: a reason code, and the kind of error it is filed under.

A *reason* names the rule that refused the command. A *kind* names what could not happen, so that
a client can route refusals without knowing every reason. Reviewed against what each name promises:

* ``ValidationError``: the request cannot apply as written: an amount out of range, another
  currency, a policy whose numbers make no sense, a stale ``expected_seq``, an arena that does not
  exist or already does, a fill that is already recorded.
* ``AllocationError``: capital could not move between the treasury and an agent (``AllocateCapital``:
  treasury short, over the tier limit; ``ReleaseCapital``: the agent holds less).
* ``InsufficientFundsError``: the account the command takes money from holds too little: the
  treasury for ``WithdrawFunds`` (allocated capital must be released first), the agent for a
  ``RecordPnL`` loss larger than its balance. Nothing was conserved or broken: it was refused.
* ``CapitalConservationError``: only ``CONSERVATION_VIOLATED``: the core's own check after deciding
  found that the decided events would not conserve capital, so it published this refusal instead.
  A defect in a rule, to be reported.
* ``AgentError``: the agent does not exist, already exists, was killed, or there is no room for a
  new one in its tier (``SpawnAgent``).
* ``EvolutionError``: genomes, parents, cycle ordering, and no room in the incubator for a mutant.
* ``GraduationError``: the agent is not eligible, or the next tier is full.

Most reasons mean one thing whatever the command; ``INSUFFICIENT_TREASURY`` and ``TIER_FULL`` mean
different things for different commands and are listed per command (``KIND_BY_COMMAND``).

History: before ``CommandRejected``/``AllocationError`` schema v2, the kind followed the reason
alone (a withdrawal beyond the treasury was an ``AllocationError``, a loss beyond the balance a
``CapitalConservationError``, a full tier always a ``GraduationError``). v1 events are read with the
kind of this table (``schemas.upcasting``); their bytes and hashes stay as written.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ErrorKind(StrEnum):
    ValidationError = "ValidationError"
    AllocationError = "AllocationError"
    InsufficientFundsError = "InsufficientFundsError"
    CapitalConservationError = "CapitalConservationError"
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


KIND_BY_REASON: Final[dict[Reason, ErrorKind]] = {
    Reason.ARENA_EXISTS: ErrorKind.ValidationError,
    Reason.ARENA_NOT_FOUND: ErrorKind.ValidationError,
    Reason.INVALID_POLICY: ErrorKind.ValidationError,
    Reason.AMOUNT_OUT_OF_RANGE: ErrorKind.ValidationError,
    Reason.CURRENCY_MISMATCH: ErrorKind.ValidationError,
    Reason.SEQ_MISMATCH: ErrorKind.ValidationError,
    Reason.DUPLICATE_FILL: ErrorKind.ValidationError,
    Reason.OVER_TIER_LIMIT: ErrorKind.AllocationError,
    Reason.INSUFFICIENT_AGENT_BALANCE: ErrorKind.AllocationError,
    Reason.LOSS_EXCEEDS_BALANCE: ErrorKind.InsufficientFundsError,
    Reason.CONSERVATION_VIOLATED: ErrorKind.CapitalConservationError,
    Reason.AGENT_EXISTS: ErrorKind.AgentError,
    Reason.AGENT_NOT_FOUND: ErrorKind.AgentError,
    Reason.AGENT_NOT_ALIVE: ErrorKind.AgentError,
    Reason.INVALID_GENOME: ErrorKind.EvolutionError,
    Reason.PARENT_NOT_ALIVE: ErrorKind.EvolutionError,
    Reason.CYCLE_OUT_OF_ORDER: ErrorKind.EvolutionError,
    Reason.NOT_ELIGIBLE: ErrorKind.GraduationError,
}
"""Reasons that mean the same whatever the command."""

KIND_BY_COMMAND: Final[dict[Reason, dict[str, ErrorKind]]] = {
    Reason.INSUFFICIENT_TREASURY: {
        "AllocateCapital": ErrorKind.AllocationError,
        "WithdrawFunds": ErrorKind.InsufficientFundsError,
    },
    Reason.TIER_FULL: {
        "SpawnAgent": ErrorKind.AgentError,
        "MutateAgent": ErrorKind.EvolutionError,
        "GraduateAgent": ErrorKind.GraduationError,
    },
}
"""Reasons whose meaning depends on the command, with every command that can produce them."""


def kind_of(command_type: str, reason: Reason) -> ErrorKind:
    """The kind a refusal of ``command_type`` for ``reason`` is filed under.

    A reason listed per command but raised by a command not listed (a new rule) falls back to the
    first kind listed for it, so deciding never fails; the unit tests pin every pair the rules raise.
    """
    kind = KIND_BY_REASON.get(reason)
    if kind is not None:
        return kind
    by_command = KIND_BY_COMMAND[reason]
    return by_command.get(command_type) or next(iter(by_command.values()))
