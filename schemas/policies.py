"""Arena policies carried by ``CreateArena`` and recorded in ``ArenaCreated``.

Only types are checked at decoding. Whether the numbers make sense is decided by the pure core
(``streams.domain.policy``), which answers a bad policy with an ``INVALID_POLICY`` rejection event
rather than a dead letter. The bounds it applies are defined here, once, and published in the
exported JSON Schema as ``minimum``/``maximum`` (plus two rules a schema cannot say: the three
``budget_bps`` sum to at most 10,000, and ``target_population`` is at most the tiers' ``max_agents``
together). A policy left out of ``CreateArena`` is the default shown here and in the schema.

Basis points (bps) are integer hundredths of a percent: 10000 bps = 100 %. Amounts are minor units.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, StrictInt
from pydantic.config import JsonDict

from schemas.genome import GENE_MAX, GENE_MIN
from schemas.money import MAX_MINOR

BPS: Final = 10_000
MAX_AGENTS_PER_TIER: Final = 1_000_000
MAX_WINDOW: Final = 1_000_000
MAX_RECORDS: Final = 1_000_000_000
MAX_MUTATION_STEP: Final = GENE_MAX - GENE_MIN

_JUDGED = "; outside [{low}, {high}]: an INVALID_POLICY rejection event"


def _judged(low: int, high: int, description: str, default: int | None = None) -> Any:  # noqa: ANN401 - a Field
    """A policy number: its meaning, and the bounds the core judges it by, in the exported schema."""
    extra: JsonDict = {"minimum": low, "maximum": high}
    text = description + _JUDGED.format(low=low, high=high)
    if default is None:
        return Field(description=text, json_schema_extra=extra)
    return Field(default, description=text, json_schema_extra=extra)


class TierPolicy(BaseModel):
    """Limits of one tier."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    max_agents: StrictInt = _judged(1, MAX_AGENTS_PER_TIER, "alive agents the tier holds at most")
    max_allocation: StrictInt = _judged(1, MAX_MINOR, "capital one agent of the tier may hold, minor units")
    budget_bps: StrictInt = _judged(0, BPS, "the tier's share of capital at a cycle's rebalance")


DEFAULT_INCUBATOR: Final = TierPolicy(max_agents=200, max_allocation=1_000_000, budget_bps=2_000)
DEFAULT_PROVING: Final = TierPolicy(max_agents=50, max_allocation=5_000_000, budget_bps=3_000)
DEFAULT_ARENA: Final = TierPolicy(max_agents=20, max_allocation=25_000_000, budget_bps=4_000)


class TierPolicies(BaseModel):
    """One policy per tier; the defaults keep a 10 % treasury reserve at rebalance."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    incubator: TierPolicy = DEFAULT_INCUBATOR
    proving: TierPolicy = DEFAULT_PROVING
    arena: TierPolicy = DEFAULT_ARENA


class GraduationThreshold(BaseModel):
    """What an agent must show to move up one tier."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    min_records: StrictInt = _judged(1, MAX_RECORDS, "PnL records the agent must have")
    min_return_bps: StrictInt = _judged(-MAX_MINOR, MAX_MINOR, "return on allocated capital the agent must show")


class EvolutionPolicy(BaseModel):
    """How a cycle judges, culls, promotes and refills the population.

    The dedup window sizes live here because they are per-arena settings fixed at creation; they bound
    the memory an arena's state can take (see ``streams.domain.window``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    min_records: StrictInt = _judged(1, MAX_RECORDS, "PnL records before an agent is judged", 5)
    kill_bottom_bps: StrictInt = _judged(0, BPS, "share of judged agents killed each cycle, the worst first", 1_000)
    max_drawdown_bps: StrictInt = _judged(0, MAX_MINOR, "drawdown beyond which an agent is killed", 2_500)
    to_proving: GraduationThreshold = GraduationThreshold(min_records=10, min_return_bps=200)
    to_arena: GraduationThreshold = GraduationThreshold(min_records=30, min_return_bps=500)
    target_population: StrictInt = _judged(0, 3 * MAX_AGENTS_PER_TIER, "alive agents a cycle refills to", 100)
    mutation_step: StrictInt = _judged(0, MAX_MUTATION_STEP, "largest change of a gene by mutation", 1_000)
    command_id_window: StrictInt = _judged(1, MAX_WINDOW, "command ids remembered for idempotency", 10_000)
    fill_ref_window: StrictInt = _judged(1, MAX_WINDOW, "fill refs remembered against DUPLICATE_FILL", 100_000)
