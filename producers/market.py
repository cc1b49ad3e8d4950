"""A seeded synthetic market: a Markov chain of regimes, each with its own drift and volatility.

Every quantity is an integer number of basis points (1 bps = 0.01 %). The generator draws only
integers from its own ``random.Random`` instance (never the module-level one), so the same seed
gives the same market on every machine and Python version:

* The regime of each day follows the previous day's regime through a transition table of integer
  weights out of 10 000 (``randrange(10_000)`` picks the row's bucket).
* A standard normal shock is approximated by the Irwin-Hall sum of ``NORMAL_TERMS`` integer uniforms
  (``randint``); ``normal_milli`` returns it scaled by 1000, so ``vol_bps * z // 1000`` is exact
  integer arithmetic. Irwin-Hall is bounded at about 6 sigma; fat tails come from the regimes'
  jumps instead (a crisis day can gap down), which is where real markets put them.
* ``trend_bps`` is the sum of the ``lookback`` returns *before* the day: a momentum signal a strategy
  can know when the day opens (no look-ahead).
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

BPS: Final = 10_000
NORMAL_TERMS: Final = 12
_NORMAL_HALF_WIDTH: Final = 500
"""12 uniforms on [-500, 500] have variance 12 * 500 * 501 / 3 = 1 002 000, so std ~ 1001 ~ 1000."""
MAX_DAILY_MOVE_BPS: Final = 5_000
"""A day's market return is clamped to +-50 %: a circuit breaker, so no strategy meets -100 %."""


def trunc_div(numerator: int, denominator: int) -> int:
    """Integer division rounding toward zero: unlike ``//`` it does not bias negative values down."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator < 0) == (denominator < 0) else -quotient


def normal_milli(rng: random.Random) -> int:
    """An approximately N(0, 1) draw times 1000, from integers only (Irwin-Hall of 12 uniforms)."""
    return sum(rng.randint(-_NORMAL_HALF_WIDTH, _NORMAL_HALF_WIDTH) for _ in range(NORMAL_TERMS))


@dataclass(frozen=True, slots=True)
class Regime:
    """One state of the market chain.

    ``transitions`` are integer weights out of ``BPS`` (summing to ``BPS``), one per regime of the
    table in table order: the chance of each regime tomorrow given this one today. A jump is a
    one-off move of ``jump_bps`` added on a day with probability ``jump_per_10k`` / 10 000.
    """

    name: str
    drift_bps: int
    vol_bps: int
    transitions: tuple[int, ...]
    jump_per_10k: int = 0
    jump_bps: int = 0


DEFAULT_REGIMES: Final[tuple[Regime, ...]] = (
    # name, daily drift, daily volatility; then tomorrow's odds of bull, sideways, bear, crisis
    Regime("bull", drift_bps=6, vol_bps=90, transitions=(9_300, 500, 180, 20)),
    Regime("sideways", drift_bps=0, vol_bps=70, transitions=(600, 9_000, 350, 50)),
    Regime("bear", drift_bps=-8, vol_bps=140, transitions=(200, 600, 9_000, 200)),
    Regime("crisis", drift_bps=-35, vol_bps=320, transitions=(300, 700, 1_500, 7_500), jump_per_10k=600, jump_bps=-600),
)


def regime_table_problem(regimes: tuple[Regime, ...]) -> str | None:
    """Why ``regimes`` is not a usable transition table, or None."""
    if not regimes:
        return "at least one regime is needed"
    for regime in regimes:
        if len(regime.transitions) != len(regimes):
            return f"regime {regime.name!r} has {len(regime.transitions)} transition weights, needs {len(regimes)}"
        if any(weight < 0 for weight in regime.transitions) or sum(regime.transitions) != BPS:
            return f"regime {regime.name!r} transition weights must be >= 0 and sum to {BPS}"
        if regime.vol_bps < 0 or not 0 <= regime.jump_per_10k <= BPS:
            return f"regime {regime.name!r} needs vol_bps >= 0 and jump_per_10k within [0, {BPS}]"
    return None


@dataclass(frozen=True, slots=True)
class MarketDay:
    """What the market did on ``day`` (1-based): its regime, return and the signals known at the open."""

    day: int
    regime: str
    return_bps: int
    vol_bps: int
    trend_bps: int


class SyntheticMarket:
    """An endless, deterministic sequence of ``MarketDay`` s for one seed."""

    def __init__(
        self,
        seed: int,
        *,
        regimes: tuple[Regime, ...] = DEFAULT_REGIMES,
        start_regime: int = 1,
        lookback: int = 5,
    ) -> None:
        problem = regime_table_problem(regimes)
        if problem:
            raise ValueError(problem)
        if not 0 <= start_regime < len(regimes):
            raise ValueError(f"start_regime {start_regime} is not an index of the {len(regimes)} regimes")
        if lookback < 1:
            raise ValueError(f"lookback must be at least 1 day, got {lookback}")
        # A str seed is hashed with SHA-512 by Random (version 2): stable across platforms and versions.
        self._rng = random.Random(f"arena-ledger/market/{seed}")  # noqa: S311 - a simulation, not cryptography
        self._regimes = regimes
        self._regime = start_regime
        self._recent: deque[int] = deque(maxlen=lookback)
        self._day = 0

    def next_day(self) -> MarketDay:
        rng = self._rng
        if self._day > 0:
            self._regime = self._next_regime(rng.randrange(BPS))
        regime = self._regimes[self._regime]
        move = regime.drift_bps + trunc_div(regime.vol_bps * normal_milli(rng), 1000)
        if regime.jump_per_10k and rng.randrange(BPS) < regime.jump_per_10k:
            move += regime.jump_bps
        move = max(-MAX_DAILY_MOVE_BPS, min(MAX_DAILY_MOVE_BPS, move))
        self._day += 1
        day = MarketDay(
            day=self._day,
            regime=regime.name,
            return_bps=move,
            vol_bps=regime.vol_bps,
            trend_bps=sum(self._recent),
        )
        self._recent.append(move)
        return day

    def days(self, count: int) -> Iterator[MarketDay]:
        for _ in range(count):
            yield self.next_day()

    def _next_regime(self, draw: int) -> int:
        for index, weight in enumerate(self._regimes[self._regime].transitions):
            if draw < weight:
                return index
            draw -= weight
        raise AssertionError("transition weights sum to BPS")  # regime_table_problem guarantees it
