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

The exported JSON Schema carries the domain rules as constraints (``maxProperties``,
``propertyNames``, ``minimum``/``maximum``) so a client can check a genome before sending it; the
worker still decodes a genome that breaks them, and answers it with ``INVALID_GENOME``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from pydantic import Field, StrictInt

MAX_GENES: Final = 16
GENE_MIN: Final = -1_000_000
GENE_MAX: Final = 1_000_000
GENE_NAME_PATTERN: Final = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def _genome_rules(schema: dict[str, Any]) -> None:
    schema["maxProperties"] = MAX_GENES
    schema["propertyNames"] = {"pattern": GENE_NAME_PATTERN.pattern}
    schema["additionalProperties"] = {"type": "integer", "minimum": GENE_MIN, "maximum": GENE_MAX}
    schema["description"] = (
        f"strategy parameters: at most {MAX_GENES} genes, names matching {GENE_NAME_PATTERN.pattern}, "
        f"integer values within [{GENE_MIN}, {GENE_MAX}]; a genome that breaks these rules is decoded and "
        "refused with an INVALID_GENOME rejection event (a value that is not an integer is a dead letter)"
    )


WireGenome = Annotated[dict[str, StrictInt], Field(json_schema_extra=_genome_rules)]
WireGenomeDelta = Annotated[
    dict[str, StrictInt],
    Field(
        description="integers added to the mutated parent genes (a gene only here starts from 0); the child "
        "genome that results must follow the genome rules, or the command is refused with INVALID_GENOME"
    ),
]
