"""After an integrity alert: the arena is compromised, said once, and the book never follows a forgery."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from schemas.alerts import Check, ConservationAlert
from schemas.events import decode_event_with_digest, digest, encode_event
from schemas.fields import SourceRef
from streams.domain import Book
from tests.support.builders import Harness, arena, money, with_agents

TOPIC = "arena.events"


def _history() -> Harness:
    h = with_agents(arena(funded=1_000_000), "a", "b", allocate=100_000)
    for period in range(4):
        h.do("RecordPnL", agent_id="a", amount=money(700), period=period, source="trading")
        h.do("RecordPnL", agent_id="b", amount=money(-300), period=period, source="trading")
    h.do("RunEvolutionCycle", cycle=1)
    h.do("WithdrawFunds", amount=money(5_000))
    return h


def _forged_after(raw: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    """A record written by someone else right after ``raw``: next seq, linked to it, correctly hashed."""
    doc = orjson.loads(raw)
    doc.update(event_id="forged:0", causation_id="forged", seq=doc["seq"] + 1, prev_hash=doc["hash"])
    change(doc)
    doc["hash"] = digest(doc)
    return orjson.dumps(doc)


def _run(book: Book, raws: list[bytes]) -> list[list[ConservationAlert]]:
    """Each record's alerts, in topic order (offset = index)."""
    out = []
    for offset, raw in enumerate(raws):
        event, written = decode_event_with_digest(raw)
        out.append(book.apply(event, written, SourceRef(topic=TOPIC, partition=2, offset=offset)))
    return out


def _money_from_nowhere(doc: dict[str, Any]) -> None:
    doc["postings"] = [{"debit": "treasury", "credit": "external", "amount": 5_000_000}]


def test_a_forged_event_is_said_once_and_the_worker_s_later_events_raise_nothing() -> None:
    h = _history()
    raws = [encode_event(e) for e in h.events]
    at = 8
    raws.insert(at, _forged_after(raws[at - 1], _money_from_nowhere))
    book = Book()
    per_record = _run(book, raws)

    first = per_record[at]
    assert [a.check for a in first] == [Check.POSTINGS_MISMATCH_PAYLOAD, Check.ARENA_COMPROMISED]
    verdict = first[-1]
    assert verdict.message.startswith(
        f"arena {h.state.arena_id} compromised at {TOPIC}[2]@{at}, first bad event forged:0 (seq {at + 1})"
    )
    assert verdict.source == SourceRef(topic=TOPIC, partition=2, offset=at)
    assert [a for alerts in per_record[at + 1 :] for a in alerts] == [], "the worker's own events raise nothing"


def test_the_book_never_follows_a_forgery() -> None:
    h = _history()
    raws = [encode_event(e) for e in h.events]
    raws.insert(8, _forged_after(raws[7], _money_from_nowhere))
    book = Book()
    _run(book, raws)
    books = book.arena(h.state.arena_id)
    assert (books.last_seq, books.last_hash) == (h.state.last_seq, h.state.last_hash)
    assert books.treasury == h.state.treasury and books.funded == h.state.funded_total
    compromise = books.compromise
    assert compromise is not None and not compromise.holding
    assert (compromise.first_where, compromise.first_event_id, compromise.held) == (f"{TOPIC}[2]@8", "forged:0", 1)
    assert compromise.resumed_at == f"{TOPIC}[2]@9"


def test_a_forged_seq_far_ahead_does_not_turn_every_later_event_into_a_duplicate() -> None:
    h = _history()
    raws = [encode_event(e) for e in h.events]
    raws.insert(5, _forged_after(raws[4], lambda d: d.update(seq=d["seq"] + 100)))
    per_record = _run(Book(), raws)
    later = [a.check for alerts in per_record[6:] for a in alerts]
    assert later == [], f"{later.count(Check.SEQ_DUPLICATE)} duplicates after the forgery"
    assert [a.check for a in per_record[5]] == [Check.SEQ_GAP, Check.ARENA_COMPROMISED]


def test_a_fork_the_book_cannot_resolve_is_said_once_and_the_arena_is_held_quietly() -> None:
    h = _history()
    raws = [encode_event(e) for e in h.events]
    # a flawless forgery: an extra funding whose postings match its payload, so the book applies it
    last = orjson.loads(raws[4])
    raws.insert(5, _forged_after(raws[1], lambda d: d.update(seq=last["seq"] + 1, prev_hash=last["hash"])))
    book = Book()
    per_record = _run(book, raws)
    alerted = [(index, a.check) for index, alerts in enumerate(per_record) for a in alerts]
    assert alerted == [(6, Check.SEQ_DUPLICATE), (6, Check.ARENA_COMPROMISED)]
    compromise = book.arena(h.state.arena_id).compromise
    assert compromise is not None and compromise.holding and compromise.trusted_seq == 6  # the forgery's seq
    assert compromise.held == len(raws) - 6
    assert "holding since seq 6" in compromise.summary(h.state.arena_id)


def test_an_exact_redelivery_is_reported_but_is_no_incident() -> None:
    h = _history()
    raws = [encode_event(e) for e in h.events]
    raws.insert(4, raws[3])
    book = Book()
    assert [a.check for alerts in _run(book, raws) for a in alerts] == [Check.SEQ_DUPLICATE]
    assert book.arena(h.state.arena_id).compromise is None


def test_a_new_incident_after_the_chain_resumed_is_said_again() -> None:
    h = _history()
    raws = [encode_event(e) for e in h.events]
    raws.insert(12, _forged_after(raws[11], _money_from_nowhere))
    raws.insert(4, _forged_after(raws[3], _money_from_nowhere))
    book = Book()
    verdicts = [a for alerts in _run(book, raws) for a in alerts if a.check is Check.ARENA_COMPROMISED]
    assert [v.source.offset for v in verdicts if v.source] == [4, 13]
    assert "compromised again" in verdicts[1].message
    compromise = book.arena(h.state.arena_id).compromise
    assert compromise is not None and (compromise.incidents, compromise.first_where) == (2, f"{TOPIC}[2]@4")


def test_an_unreadable_record_of_an_arena_compromises_it_until_its_chain_continues() -> None:
    h = _history()
    raws = [encode_event(e) for e in h.events]
    book = Book()
    _run(book, raws[:3])
    alerts = book.unreadable(h.state.arena_id, "not JSON", SourceRef(topic=TOPIC, partition=2, offset=3))
    assert [a.check for a in alerts] == [Check.UNDECODABLE_EVENT, Check.ARENA_COMPROMISED]
    assert book.unreadable(h.state.arena_id, "again", SourceRef(topic=TOPIC, partition=2, offset=4)) == []
    event, written = decode_event_with_digest(raws[3])
    assert book.apply(event, written) == []
    compromise = book.arena(h.state.arena_id).compromise
    assert compromise is not None and not compromise.holding and compromise.held == 2
