"""Dead letters: re-publishable byte for byte when small, never too big to send when large."""

from __future__ import annotations

import hashlib

import orjson

from schemas.commands import DecodeReason
from schemas.export import documents
from streams.processors.dead_letter import MAX_EMBEDDED_BYTES, RoutingReason, SourceRef, dead_letter, decode_dead_letter

SOURCE = SourceRef(topic="arena.commands", partition=2, offset=41, timestamp_ms=1)


def test_a_small_message_is_embedded_byte_for_byte() -> None:
    raw = b"\xff\xfe not utf-8"
    letter = decode_dead_letter(dead_letter(DecodeReason.NOT_UTF8, "bad bytes", SOURCE, b"k", raw))
    assert letter.original_value() == raw and letter.original_key() == b"k"
    assert not letter.value_omitted and letter.value_bytes == len(raw)
    assert letter.value_sha256 == hashlib.sha256(raw).hexdigest()


def test_a_message_too_big_to_embed_keeps_its_size_hash_preview_and_source_and_stays_under_1_mb() -> None:
    raw = b'{"genome": "' + b"x" * (MAX_EMBEDDED_BYTES * 2) + b'"}'
    encoded = dead_letter(DecodeReason.SCHEMA_VIOLATION, "too big", SOURCE, b"arena-1", raw)
    assert len(encoded) < 1_000_000, "Kafka's default record limit"
    letter = decode_dead_letter(encoded)
    assert letter.value_omitted and letter.original_value() is None
    assert letter.value_bytes == len(raw) and letter.value_sha256 == hashlib.sha256(raw).hexdigest()
    assert letter.source == SOURCE and letter.value_preview is not None and letter.value_preview.startswith('{"genome"')


def test_the_largest_embeddable_message_still_fits_a_record() -> None:
    raw = b"y" * MAX_EMBEDDED_BYTES
    encoded = dead_letter(RoutingReason.KEY_MISMATCH, "k", SOURCE, b"k" * (MAX_EMBEDDED_BYTES // 4), raw)
    assert len(encoded) < 1_000_000
    assert decode_dead_letter(encoded).original_value() == raw


def test_the_exported_schema_lists_every_reason_a_dead_letter_can_carry() -> None:
    schema = documents()["dead_letter.schema.json"]
    listed = schema["properties"]["reason"]["enum"]
    assert set(listed) == {r.value for r in DecodeReason} | {r.value for r in RoutingReason}
    for code in listed:
        assert f"{code}: " in schema["properties"]["reason"]["description"], f"{code} has no meaning"


def test_every_dead_letter_the_builder_writes_is_valid_against_the_exported_schema() -> None:
    letter = orjson.loads(dead_letter(RoutingReason.WRONG_PARTITION, "moved", SOURCE, b"k", b"{}"))
    schema = documents()["dead_letter.schema.json"]
    assert set(letter) == set(schema["properties"]) and set(schema["required"]) <= set(letter)
    assert letter["reason"] in schema["properties"]["reason"]["enum"]
