"""Genomes: what the wire checks and what the core judges.

A genome is a small dict of named integer strategy parameters.

Wire level (a violation is a decode error, the message goes to the dead-letter topic):
  the genome is a JSON object and every value is a strict JSON integer. Floats, bools, strings and
  nested values are the wrong *type*.

Domain level (a violation is an ``INVALID_GENOME`` rejection event, decided by the pure core):
  at most ``MAX_GENES`` genes, names matching ``GENE_NAME_PATTERN`` and values within
  ``[GENE_MIN, GENE_MAX]``. These are well-typed values that the arena's rules refuse, so the sender
  learns about them from the event stream like any other refusal.

The same split applies to ``MutateAgent.genome_delta``: only the *result* of applying it is judged.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import StrictInt

MAX_GENES: Final = 16
GENE_MIN: Final = -1_000_000
GENE_MAX: Final = 1_000_000
GENE_NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

WireGenome = dict[str, StrictInt]
