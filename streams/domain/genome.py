"""Genome rules and deterministic mutation.

Mutation must replay identically on any machine and Python version, so it draws from SHA-256 of the
seed and the gene name instead of ``random``: the same parent, seed and step always give the same
child, and each gene's draw is independent of which other genes exist.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from schemas.genome import GENE_MAX, GENE_MIN, GENE_NAME_PATTERN, MAX_GENES
from schemas.money import MAX_MINOR


def genome_problem(genome: Mapping[str, int]) -> str | None:
    """Why a well-typed genome is unacceptable, or None if it is fine."""
    if len(genome) > MAX_GENES:
        return f"{len(genome)} genes, at most {MAX_GENES} allowed"
    for name, value in genome.items():
        if not GENE_NAME_PATTERN.fullmatch(name):
            return f"gene name {name[:40]!r} must match {GENE_NAME_PATTERN.pattern}"
        if not GENE_MIN <= value <= GENE_MAX:
            return f"gene {name!r} is outside [{GENE_MIN}, {GENE_MAX}]"
    return None


def _draw(*parts: object) -> int:
    """A 64-bit integer that depends only on ``parts``."""
    text = ":".join(str(part) for part in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def derive_seed(*parts: int) -> int:
    """A child seed from parent seeds (arena seed, cycle, index...), within the JSON-safe range."""
    return _draw("seed", *parts) & MAX_MINOR


def mutate_genome(
    parent: Mapping[str, int], seed: int, step: int, delta: Mapping[str, int] | None = None
) -> dict[str, int]:
    """The child's genome: each parent gene moves by a draw in [-step, step] (clamped to the gene
    bounds), then ``delta`` is added (a gene only in ``delta`` starts from 0). The result is not
    clamped after ``delta``: a delta that leaves the bounds is the sender's error (INVALID_GENOME)."""
    span = 2 * step + 1
    child = {
        name: min(GENE_MAX, max(GENE_MIN, value + _draw(seed, name) % span - step)) for name, value in parent.items()
    }
    for name, change in (delta or {}).items():
        child[name] = child.get(name, 0) + change
    return dict(sorted(child.items()))
