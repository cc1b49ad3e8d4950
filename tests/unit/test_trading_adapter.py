"""The trading-engine adapter: fills in, RecordPnL commands out, bad lines reported and never published."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.trading_adapter import (
    MAX_COMMAND_ID_CHARS,
    MAX_LINE_CHARS,
    FeedError,
    FeedErrorReason,
    fill_command_id,
    parse_fill_line,
    read_fills,
)
from schemas.commands import RecordPnL, encode_command, parse_command
from schemas.money import RequestedMoney
from tests.support.builders import ARENA, EUR, arena, rejection_of, with_agents

_DROP = object()


def fill(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "arena_id": ARENA,
        "agent_id": "a",
        "fill_id": "F-1",
        "pnl_minor": -1_234,
        "currency": EUR,
        "period": 3,
        "ts_ms": 1_700_000_000_000,
    }
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not _DROP}


def line(**changes: Any) -> str:
    return json.dumps(fill(**changes)) + "\n"


def test_good_lines_become_trading_pnl_with_fill_refs() -> None:
    feed = read_fills([line(), line(fill_id="F-2", pnl_minor=500, period=4, ts_ms=1_700_000_000_001)])
    commands = list(feed)
    assert feed.errors == []
    assert feed.accepted == 2
    first, second = commands
    assert first == RecordPnL(
        type="RecordPnL",
        command_id=f"fill-{ARENA}-F-1",
        arena_id=ARENA,
        issued_at=1_700_000_000_000,
        agent_id="a",
        amount=RequestedMoney(amount=-1_234, currency=EUR),
        period=3,
        source="trading",
        fill_ref="F-1",
    )
    assert (second.fill_ref, second.amount.amount, second.period, second.issued_at) == (
        "F-2",
        500,
        4,
        1_700_000_000_001,
    )


def test_commands_survive_the_wire() -> None:
    for command in read_fills([line(), line(fill_id="x" * 128)]):
        assert parse_command(encode_command(command)) == command


def test_duplicate_fills_get_the_same_command_id() -> None:
    feed = list(read_fills([line(), line(), line(pnl_minor=99)]))
    assert len({c.command_id for c in feed}) == 1


def test_a_feed_replayed_twice_is_recorded_once() -> None:
    h = with_agents(arena(), "a", allocate=100_000)
    feed = [line(), line(fill_id="F-2", pnl_minor=10)]
    outcomes = [h.run(c) for c in read_fills(feed)] + [h.run(c) for c in read_fills(feed)]
    assert [o.duplicate for o in outcomes] == [False, False, True, True]
    assert h.state.agents["a"].pnl_total == -1_234 + 10
    assert h.alerts == []


def test_the_same_fill_under_another_command_id_is_a_duplicate_fill() -> None:
    h = with_agents(arena(), "a", allocate=100_000)
    (command,) = read_fills([line()])
    h.run(command)
    again = h.run(command.model_copy(update={"command_id": "resent-by-hand"}))
    assert rejection_of(again) == ("CommandRejected", "DUPLICATE_FILL")


@pytest.mark.parametrize(
    ("text", "reason", "mentions"),
    [
        ("not json", FeedErrorReason.NOT_JSON, "JSON"),
        ('{"arena_id": ', FeedErrorReason.NOT_JSON, "JSON"),
        (line(pnl_minor=float("nan")), FeedErrorReason.NOT_JSON, "NaN is not a JSON number"),
        (line(pnl_minor=float("-inf")), FeedErrorReason.NOT_JSON, "-Infinity is not a JSON number"),
        (line(price=float("inf")), FeedErrorReason.NOT_JSON, "Infinity is not a JSON number"),  # even if ignored
        ("[1, 2]", FeedErrorReason.NOT_AN_OBJECT, "object"),
        ("42", FeedErrorReason.NOT_AN_OBJECT, "object"),
        (line(pnl_minor=_DROP), FeedErrorReason.MISSING_FIELD, "pnl_minor: required"),
        (line(fill_id=_DROP), FeedErrorReason.MISSING_FIELD, "fill_id: required"),
        (line(ts_ms=_DROP), FeedErrorReason.MISSING_FIELD, "ts_ms: required"),
        (line(pnl_minor=12.5), FeedErrorReason.WRONG_TYPE, "pnl_minor: must be a JSON integer of minor units"),
        (line(pnl_minor=1.0), FeedErrorReason.WRONG_TYPE, "fraction or exponent"),
        (line(pnl_minor=True), FeedErrorReason.WRONG_TYPE, "got a boolean"),
        (line(pnl_minor="12"), FeedErrorReason.WRONG_TYPE, "got a string"),
        (line(pnl_minor=None), FeedErrorReason.WRONG_TYPE, "got null"),
        (line(period="3"), FeedErrorReason.WRONG_TYPE, "period"),
        (line(agent_id=7), FeedErrorReason.WRONG_TYPE, "agent_id: must be a JSON string"),
        (line(currency="usd"), FeedErrorReason.INVALID_VALUE, "currency"),
        (line(period=-1), FeedErrorReason.INVALID_VALUE, "period"),
        (line(ts_ms=-5), FeedErrorReason.INVALID_VALUE, "ts_ms"),
        (line(fill_id=""), FeedErrorReason.INVALID_VALUE, "fill_id"),
        (line(arena_id="no spaces allowed"), FeedErrorReason.INVALID_VALUE, "arena_id"),
        ("x" * (MAX_LINE_CHARS + 1), FeedErrorReason.TOO_LONG, "characters"),
    ],
)
def test_bad_lines_are_reported_and_not_published(text: str, reason: FeedErrorReason, mentions: str) -> None:
    feed = read_fills([line(fill_id="ok-1"), text, line(fill_id="ok-2")])
    assert [c.fill_ref for c in feed] == ["ok-1", "ok-2"]
    (error,) = feed.errors
    assert error.line_no == 2
    assert error.reason is reason
    assert mentions in error.message
    assert error.text == text.rstrip("\n")[:199] or error.text.endswith("…")
    assert str(error).startswith(f"line 2: {reason.value}: ")


def test_missing_beats_wrong_type_and_every_problem_is_named() -> None:
    error = parse_fill_line(line(pnl_minor=True, currency="usd", ts_ms=_DROP), 9)
    assert isinstance(error, FeedError)
    assert error.reason is FeedErrorReason.MISSING_FIELD
    for name in ("pnl_minor", "currency", "ts_ms"):
        assert name in error.message


def test_blank_lines_are_skipped_and_extra_fields_ignored() -> None:
    feed = read_fills(["\n", "   \r\n", line(price=101.25, side="buy"), ""])
    commands = list(feed)
    assert len(commands) == 1
    assert feed.errors == []
    assert feed.lines_read == 4


def test_bytes_that_are_not_utf8_are_a_feed_error() -> None:
    feed = read_fills([line().encode(), b"\xff\xfe{}\n", line(fill_id="F-2").encode()])
    assert [c.fill_ref for c in feed] == ["F-1", "F-2"]
    (error,) = feed.errors
    assert (error.line_no, error.reason) == (2, FeedErrorReason.NOT_UTF8)


def test_reads_files_in_text_and_binary_mode(tmp_path: Path) -> None:
    path = tmp_path / "fills.jsonl"
    path.write_text(line() + "oops\n" + line(fill_id="F-2"), encoding="utf-8")
    with path.open(encoding="utf-8") as text:
        as_text = read_fills(text)
        text_refs = [c.fill_ref for c in as_text]
    with path.open("rb") as binary:
        as_binary = read_fills(binary)
        binary_refs = [c.fill_ref for c in as_binary]
    assert text_refs == binary_refs == ["F-1", "F-2"]
    assert [(e.line_no, e.reason) for e in as_text.errors] == [(2, FeedErrorReason.NOT_JSON)]
    assert [(e.line_no, e.reason) for e in as_binary.errors] == [(2, FeedErrorReason.NOT_JSON)]


def test_errors_are_reported_as_they_happen() -> None:
    seen: list[int] = []
    feed = read_fills(io.StringIO(line() + "bad\n" + "worse\n"), on_error=lambda e: seen.append(e.line_no))
    iterator = iter(feed)
    next(iterator)
    assert seen == []
    assert list(iterator) == []
    assert seen == [2, 3]
    assert feed.error_count == 2


def test_a_feed_is_read_once() -> None:
    feed = read_fills([line()])
    list(feed)
    with pytest.raises(RuntimeError, match="read once"):
        list(feed)


def test_long_ids_still_give_a_bounded_deterministic_command_id() -> None:
    long_arena = "A" * 64
    long_fill = "f" * 128
    command_id = fill_command_id(long_arena, long_fill)
    assert len(command_id) <= MAX_COMMAND_ID_CHARS
    assert command_id == fill_command_id(long_arena, long_fill)
    assert command_id != fill_command_id(long_arena, long_fill[:-1] + "g")
    assert fill_command_id("a", "b") == "fill-a-b"


def test_out_of_range_amounts_are_left_to_the_core() -> None:
    h = with_agents(arena(), "a", allocate=100_000)
    (command,) = read_fills([line(pnl_minor=2**80)])
    outcome = h.run(parse_command(encode_command(command)))
    assert rejection_of(outcome) == ("CommandRejected", "AMOUNT_OUT_OF_RANGE")


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_no_line_crashes_the_adapter(text: str | bytes) -> None:
    result = parse_fill_line(text, 1)
    assert result is None or isinstance(result, RecordPnL | FeedError)
