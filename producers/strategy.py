"""How a genome trades the synthetic market: the genes, their ranges, and one day's PnL.

All genes are integers in basis points of something, so the evolution policy's single
``mutation_step`` moves each of them by a comparable amount:

=================  ====================  ===========  ==================================================
gene               initial draw          read within  meaning
=================  ====================  ===========  ==================================================
``exposure_bps``   [-10 000, 10 000]     +-20 000     market exposure, bps of the balance (10 000 = 1x long)
``momentum_bps``   [-10 000, 10 000]     +-20 000     exposure added at a full-strength trend (< 0: contrarian)
``risk_limit_bps`` [200, 3 000]          [1, 10 000]  daily stop: the most a day can lose, bps of the balance
``noise_bps``      [0, 10 000]           [0, 20 000]  idiosyncratic volatility, bps of the regime's volatility
``skill_bps``      [-1 000, 1 000]       +-2 000      daily edge, bps of the regime's volatility
=================  ====================  ===========  ==================================================

Mutation (``streams.domain.genome``) may carry a gene anywhere in the domain bounds
(``schemas.genome``); the market *reads* each gene clamped to its range, so a mutant beyond it trades
like the boundary. A missing gene (an agent spawned by another engine) reads as its neutral value.

One day's PnL, in minor units, truncated toward zero:

    exposure = clamp(exposure_bps + momentum_bps * clamp(trend, +-TREND_SATURATION) / TREND_SATURATION)
    pnl      = balance * (exposure * market_return  +  vol * noise * z  +  vol * skill) / 10^8
    pnl      = max(pnl, -balance * risk_limit / 10^4)        (never below -balance)

where ``z`` is the agent's own standard normal draw (``normal_milli``, times 1000). No float is used.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from producers.market import BPS, MarketDay, trunc_div


@dataclass(frozen=True, slots=True)
class Gene:
    name: str
    initial_low: int
    initial_high: int
    low: int
    high: int
    neutral: int

    def read(self, genome: Mapping[str, int]) -> int:
        return max(self.low, min(self.high, genome.get(self.name, self.neutral)))


EXPOSURE: Final = Gene("exposure_bps", -10_000, 10_000, -20_000, 20_000, neutral=0)
MOMENTUM: Final = Gene("momentum_bps", -10_000, 10_000, -20_000, 20_000, neutral=0)
RISK_LIMIT: Final = Gene("risk_limit_bps", 200, 3_000, 1, BPS, neutral=BPS)
NOISE: Final = Gene("noise_bps", 0, 10_000, 0, 20_000, neutral=0)
SKILL: Final = Gene("skill_bps", -1_000, 1_000, -2_000, 2_000, neutral=0)
GENES: Final[tuple[Gene, ...]] = (EXPOSURE, MOMENTUM, RISK_LIMIT, NOISE, SKILL)

MAX_EXPOSURE_BPS: Final = 20_000
"""Gross leverage cap: 2x the balance, long or short."""
TREND_SATURATION_BPS: Final = 500
"""A trailing move of 5 % is a full-strength trend signal."""


def random_genome(rng: random.Random) -> dict[str, int]:
    """A founder's genome: each gene drawn uniformly from its initial range (in ``GENES`` order)."""
    return {gene.name: rng.randint(gene.initial_low, gene.initial_high) for gene in GENES}


def effective_exposure_bps(genome: Mapping[str, int], day: MarketDay) -> int:
    trend = max(-TREND_SATURATION_BPS, min(TREND_SATURATION_BPS, day.trend_bps))
    exposure = EXPOSURE.read(genome) + trunc_div(MOMENTUM.read(genome) * trend, TREND_SATURATION_BPS)
    return max(-MAX_EXPOSURE_BPS, min(MAX_EXPOSURE_BPS, exposure))


def daily_pnl(balance: int, genome: Mapping[str, int], day: MarketDay, shock_milli: int) -> int:
    """The PnL of an agent holding ``balance`` minor units on ``day``; ``shock_milli`` is its own
    N(0, 1) draw times 1000. A loss never exceeds ``balance`` (nor the genome's daily risk limit)."""
    if balance <= 0:
        return 0
    systematic = effective_exposure_bps(genome, day) * day.return_bps * 1000
    idiosyncratic = day.vol_bps * NOISE.read(genome) * shock_milli
    edge = day.vol_bps * SKILL.read(genome) * 1000
    pnl = trunc_div(balance * (systematic + idiosyncratic + edge), BPS * BPS * 1000)
    stop = balance * RISK_LIMIT.read(genome) // BPS
    return max(pnl, -stop, -balance)
