"""Export the wire contract as JSON Schema, and detect drift.

``python -m schemas.export`` writes ``schemas/json/*.schema.json``; ``--check`` writes nothing and
exits 1 listing the files that differ from what the models describe (a unit test runs the same
comparison, so a model change without a re-export fails the build).

Commands are exported in validation mode (what a producer may send); events, alerts, dead letters and
the answers of the worker's HTTP endpoints in serialization mode (what a consumer will read: fields with
defaults are always present).
``schemas/README.md`` is the page that explains them.
Formatting is stable: sorted keys, two-space indent, UTF-8, trailing newline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic.json_schema import models_json_schema

from schemas.alerts import ConservationAlert
from schemas.commands import COMMAND_ADAPTER
from schemas.dead_letters import DeadLetter
from schemas.events import Event
from schemas.queries import ANSWERS

SCHEMA_DIR: Final = Path(__file__).resolve().parent / "json"
_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"


def _titled(schema: dict[str, Any], title: str, description: str) -> dict[str, Any]:
    return {**schema, "$schema": _DIALECT, "title": title, "description": description}


def documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema, for every contract on the wire."""
    return {
        "command.schema.json": _titled(
            COMMAND_ADAPTER.json_schema(mode="validation"),
            "Command",
            "A message on arena.commands, discriminated by 'type'.",
        ),
        "event.schema.json": _titled(
            Event.model_json_schema(mode="serialization"),
            "Event",
            "A message on arena.events: envelope, postings and a payload discriminated by 'type'.",
        ),
        "alert.schema.json": _titled(
            ConservationAlert.model_json_schema(mode="serialization"),
            "ConservationAlert",
            "A message on arena.alerts raised by the ledger book.",
        ),
        "dead_letter.schema.json": _titled(
            DeadLetter.model_json_schema(mode="serialization"),
            "DeadLetter",
            "A message on arena.commands.dlq: a message that never became a command, with why and where from.",
        ),
        "query.schema.json": _titled(
            _answers_schema(),
            "Queries",
            "The JSON answers of the worker's read-only HTTP endpoints, one $defs entry per answer.",
        ),
    }


def _answers_schema() -> dict[str, Any]:
    """One document whose $defs hold every answer (and what they share), each under its model's name."""
    _refs, schema = models_json_schema([(model, "serialization") for model in ANSWERS])
    return schema


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def drifted(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that are missing or differ from the models."""
    stale = []
    for name, document in documents().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != render(document):
            stale.append(name)
    return stale


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        (directory / name).write_text(render(document), encoding="utf-8")
    return sorted(documents())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m schemas.export", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any exported schema is stale")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="output directory")
    args = parser.parse_args(argv)
    if args.check:
        stale = drifted(args.dir)
        for name in stale:
            sys.stderr.write(f"stale: {args.dir / name} (run: python -m schemas.export)\n")
        return 1 if stale else 0
    for name in write(args.dir):
        sys.stdout.write(f"wrote {args.dir / name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
