"""Command schema versions, and reading commands written to an older version.

Commands carry an optional ``schema_version``. A sender that leaves it out means the current
version of that command type, with one exception kept for senders written before versions existed:
a ``RecordPnL`` whose ``amount`` is not an object is read as version 1 (the only shape it had).

History:
  RecordPnL v1 -> v2: v1 carried ``amount`` as a bare signed integer of minor units next to a
  ``currency``; v2 carries ``amount`` as ``{"amount": <signed int>, "currency": "<code>"}``, the same
  object as every other amount on the wire. v1 commands are still accepted and decided exactly as
  before; nothing about them is written back.

Upcasters work on the decoded JSON document; the result is validated by the current models, so a
v1 command gets exactly the same checks (and dead-letter reasons) as a v2 one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

JsonDict = dict[str, Any]
Upcaster = Callable[[JsonDict], JsonDict]

CURRENT_COMMAND_VERSIONS: Final[dict[str, int]] = {"RecordPnL": 2}
DEFAULT_COMMAND_VERSION: Final = 1


class UnknownCommandVersion(ValueError):
    """A ``schema_version`` newer than this reader, or one no upcaster reads."""


def current_command_version(command_type: str) -> int:
    return CURRENT_COMMAND_VERSIONS.get(command_type, DEFAULT_COMMAND_VERSION)


def _record_pnl_v1_to_v2(doc: JsonDict) -> JsonDict:
    upgraded = dict(doc)
    amount = {"amount": upgraded.pop("amount", None)}
    if "currency" in upgraded:
        amount["currency"] = upgraded.pop("currency")
    upgraded["amount"] = amount
    upgraded["schema_version"] = 2
    return upgraded


COMMAND_UPCASTERS: Final[dict[tuple[str, int], Upcaster]] = {
    ("RecordPnL", 1): _record_pnl_v1_to_v2,
}


def _written_version(doc: JsonDict, command_type: str) -> object:
    version = doc.get("schema_version")
    if version is not None:
        return version
    if command_type == "RecordPnL" and "amount" in doc and not isinstance(doc["amount"], dict):
        return 1  # a sender from before command versions
    return current_command_version(command_type)


def upcast_command(doc: JsonDict) -> JsonDict:
    """``doc`` brought to the current version of its type; ``doc`` itself when there is nothing to do."""
    command_type = doc.get("type")
    if not isinstance(command_type, str):
        return doc  # model validation reports the missing or unknown type
    version = _written_version(doc, command_type)
    if not isinstance(version, int) or isinstance(version, bool):
        return doc  # model validation reports a schema_version that is not an integer
    target = current_command_version(command_type)
    if version > target:
        raise UnknownCommandVersion(f"{command_type} schema_version {version} is newer than this reader (v{target})")
    while version < target:
        step = COMMAND_UPCASTERS.get((command_type, version))
        if step is None:
            raise UnknownCommandVersion(f"{command_type} schema_version {version} is not readable (current: v{target})")
        doc = step(doc)
        version = doc["schema_version"]
    return doc
