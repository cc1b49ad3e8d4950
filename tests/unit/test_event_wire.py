"""Events on the wire: round-trips, canonical hashing, upcasting, and the exported schema."""

from __future__ import annotations

import hashlib
import json
import types
import typing
from typing import Any

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from schemas import alerts, commands, events, money, policies
from schemas.events import (
    PAYLOAD_MODELS,
    Event,
    EventDecodeError,
    canonical_bytes,
    decode_event,
    decode_event_with_digest,
    encode_event,
    event_digest,
)
from schemas.export import drifted
from schemas.upcasting import UPCASTERS, UnknownEventVersion, current_version, upcast
from streams.domain import Book
from tests.support.builders import Harness, arena, with_agents
from tests.support.builders import money as money_doc


def _every_event_type() -> Harness:
    """A history that produces every payload type at least once."""
    h = with_agents(arena(funded=10_000_000), "a", "b", "c", allocate=100_000)
    h.do("WithdrawFunds", amount=money_doc(1))
    h.do("ReleaseCapital", agent_id="a", amount=money_doc(1))
    h.do("ReleaseCapital", agent_id="a", amount=money_doc(10**12))  # AllocationError
    for period in range(2):
        for agent_id, amount in (("a", 5_000), ("b", 100), ("c", -3_000)):
            h.do("RecordPnL", agent_id=agent_id, amount=money_doc(amount), period=period, source="trading")
    h.do("GraduateAgent", agent_id="a")
    h.do("MutateAgent", parent_id="b", child_id="b2", seed=5)
    h.do("KillAgent", agent_id="b2", reason="manual")
    h.do("RunEvolutionCycle", cycle=1)
    h.do("RunEvolutionCycle", cycle=1)  # CommandRejected
    return h


def test_every_event_type_round_trips_byte_for_byte() -> None:
    h = _every_event_type()
    seen = {event.type for event in h.events}
    assert seen == {model.model_fields["type"].default for model in PAYLOAD_MODELS}
    for event in h.events:
        raw = encode_event(event)
        decoded, digest = decode_event_with_digest(raw)
        assert decoded == event
        assert encode_event(decoded) == raw
        assert digest == event.hash == event_digest(event)
    assert h.alerts == []


def test_canonical_bytes_match_sorted_compact_json() -> None:
    h = with_agents(arena(), "a")
    h.do("KillAgent", agent_id="a", reason="café ünïcode ✓")
    event = h.events[-1]
    doc = json.loads(encode_event(event))
    del doc["hash"]
    expected = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert canonical_bytes(doc) == expected
    assert hashlib.sha256(expected).hexdigest() == event.hash


def test_envelope_type_must_match_the_payload() -> None:
    doc = json.loads(encode_event(arena().events[0]))
    doc["type"] = "ArenaFunded"
    with pytest.raises(ValidationError, match="envelope type"):
        Event.model_validate(doc)


def test_undecodable_event_bytes_raise_a_typed_error() -> None:
    for raw in (b"{oops", b"[]", b'{"type": "ArenaCreated"}'):
        with pytest.raises(EventDecodeError):
            decode_event(raw)


def _old_pnl_bytes(version: int) -> tuple[bytes, Event]:
    """A PnLRecorded as the writer of ``version`` produced it, hashed over those bytes.

    v1: no ``source``; v1 and v2: ``amount`` a bare signed integer next to ``currency``.
    """
    h = with_agents(arena(), "a", allocate=100)
    h.do("RecordPnL", agent_id="a", amount=money_doc(-7), period=1, source="simulation")
    current = h.events[-1]
    doc = current.model_dump(mode="json")
    signed = doc["payload"]["amount"]
    doc["payload"]["amount"], doc["payload"]["currency"] = signed["amount"], signed["currency"]
    if version == 1:
        del doc["payload"]["source"]
    doc["schema_version"] = version
    del doc["hash"]
    doc["hash"] = hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return orjson.dumps(doc), current


@pytest.mark.parametrize("version", [1, 2])
def test_older_pnl_recorded_versions_are_read_as_the_current_one(version: int) -> None:
    raw, current = _old_pnl_bytes(version)
    event, digest = decode_event_with_digest(raw)
    assert event.schema_version == current_version("PnLRecorded") == 3
    assert event.payload.source == "simulation"  # type: ignore[union-attr]
    assert event.payload == current.payload
    assert digest == event.hash  # verified on the bytes as written, not on the upcast model


def test_book_accepts_upcast_events_when_given_the_written_digest() -> None:
    raw, _ = _old_pnl_bytes(1)
    h = with_agents(arena(), "a", allocate=100)
    book = Book()
    for event in h.events:
        assert book.apply(event) == []
    event, digest = decode_event_with_digest(raw)
    assert book.apply(event, digest) == []


def test_events_newer_than_the_reader_are_refused() -> None:
    doc = json.loads(encode_event(arena().events[0]))
    doc["schema_version"] = 99
    with pytest.raises(UnknownEventVersion):
        upcast(doc)
    with pytest.raises(EventDecodeError, match="newer"):
        decode_event(json.dumps(doc).encode())


def test_every_upcaster_reaches_the_current_version() -> None:
    for (event_type, version), step in UPCASTERS.items():
        out = step({"type": event_type, "schema_version": version, "payload": {}})
        assert out["schema_version"] == version + 1 <= current_version(event_type)


def test_exported_json_schemas_have_not_drifted() -> None:
    assert drifted() == [], "run: python -m schemas.export"


def _annotations(model: type[BaseModel]) -> list[tuple[str, Any]]:
    return [(f"{model.__name__}.{name}", field.annotation) for name, field in model.model_fields.items()]


def _contains_float(annotation: Any) -> bool:
    if annotation is float:
        return True
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or args:
        return any(_contains_float(arg) for arg in args)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return any(_contains_float(a) for _, a in _annotations(annotation))
    return False


def test_no_field_in_any_wire_model_is_a_float() -> None:
    models = [
        obj
        for module in (alerts, commands, events, money, policies)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj is not BaseModel
    ]
    assert len(models) > 30
    offenders = [name for model in models for name, a in _annotations(model) if _contains_float(a)]
    assert offenders == []


def test_the_float_detector_itself_works() -> None:
    class Bad(BaseModel):
        amount: list[float | None]

    assert _contains_float(Bad.model_fields["amount"].annotation)


def test_the_bytes_as_written_are_verified_without_reserialising_and_an_edit_is_still_found() -> None:
    h = _every_event_type()
    for event in h.events:
        sealed = events.encode_event(event)
        doc = orjson.loads(sealed)
        # The fast way (the record minus its hash member) and the recipe agree for what the core writes.
        assert events.written_digest(sealed, doc) == events.digest(doc) == event.hash
        # Another member order (an older writer) is verified the slow way, and still matches.
        reordered = json.dumps(dict(reversed(list(doc.items()))), separators=(",", ":")).encode()
        assert events.written_digest(reordered, orjson.loads(reordered)) == event.hash
        # An edit that keeps the claimed hash is found either way.
        edited = sealed.replace(b'"seq":', b'"seq":1', 1)
        assert events.written_digest(edited, orjson.loads(edited)) != event.hash
