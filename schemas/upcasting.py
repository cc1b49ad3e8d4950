"""Reading old event versions without rewriting the topic (commands: ``schemas.command_versions``).

An upcaster turns the JSON document of one ``(event type, schema_version)`` into the next version.
``upcast`` applies them in order until the document reaches the version the current models
describe. Upcasters work on the decoded dict, *after* the hash chain has been verified on the bytes
as they were written (the hash covers history, the models cover the present).

History:
  PnLRecorded v1 -> v2: v1 had no ``source``; every v1 record came from the simulation engine, which
  was the only producer before the trading adapter existed, so v2 fills ``source="simulation"``.
  CommandRejected and AllocationError v1 -> v2: v1 filed each reason under one error kind whatever
  the command; v2 files it under the kind of the reviewed table (``schemas.rejections``), recomputed
  from the ``command_type`` and ``reason`` every v1 rejection carries.
  PnLRecorded v2 -> v3: v2 carried ``amount`` as a bare signed integer next to ``currency``; v3
  carries ``amount`` as signed money ``{"amount", "currency"}``, like every other amount.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from schemas.rejections import Reason, kind_of

JsonDict = dict[str, Any]
Upcaster = Callable[[JsonDict], JsonDict]

CURRENT_VERSIONS: Final[dict[str, int]] = {"PnLRecorded": 3, "CommandRejected": 2, "AllocationError": 2}
DEFAULT_VERSION: Final = 1


def current_version(event_type: str) -> int:
    return CURRENT_VERSIONS.get(event_type, DEFAULT_VERSION)


def _pnl_recorded_v1_to_v2(doc: JsonDict) -> JsonDict:
    payload = dict(doc["payload"])
    payload.setdefault("source", "simulation")
    return {**doc, "payload": payload, "schema_version": 2}


def _pnl_recorded_v2_to_v3(doc: JsonDict) -> JsonDict:
    payload = dict(doc["payload"])
    if "amount" in payload and not isinstance(payload["amount"], dict):
        payload["amount"] = {"amount": payload["amount"], "currency": payload.pop("currency", None)}
    return {**doc, "payload": payload, "schema_version": 3}


def _rejection_v1_to_v2(doc: JsonDict) -> JsonDict:
    payload = dict(doc["payload"])
    command_type, reason = payload.get("command_type"), payload.get("reason")
    if isinstance(command_type, str) and isinstance(reason, str) and reason in Reason.__members__:
        payload["error_kind"] = kind_of(command_type, Reason(reason)).value
    # otherwise left as written: model validation reports what is wrong with it
    return {**doc, "payload": payload, "schema_version": 2}


UPCASTERS: Final[dict[tuple[str, int], Upcaster]] = {
    ("PnLRecorded", 1): _pnl_recorded_v1_to_v2,
    ("PnLRecorded", 2): _pnl_recorded_v2_to_v3,
    ("CommandRejected", 1): _rejection_v1_to_v2,
    ("AllocationError", 1): _rejection_v1_to_v2,
}


class UnknownEventVersion(ValueError):
    """An event newer than this code, or an old version no upcaster knows how to read."""


def upcast(doc: JsonDict) -> JsonDict:
    """Bring one event document to the current schema version; returns ``doc`` itself if current."""
    event_type = doc.get("type")
    version = doc.get("schema_version")
    if not isinstance(event_type, str) or not isinstance(version, int) or isinstance(version, bool):
        return doc  # let model validation report the malformed envelope
    target = current_version(event_type)
    while version < target:
        step = UPCASTERS.get((event_type, version))
        if step is None:
            raise UnknownEventVersion(f"no upcaster for {event_type} v{version}")
        doc = step(doc)
        version = doc["schema_version"]
    if version > target:
        raise UnknownEventVersion(f"{event_type} v{version} is newer than this reader (v{target})")
    return doc
