"""The hostile-traffic generator (tests/hostile.py): deterministic, complete, and right about every message.

"Right" is checked against the real command processor with dict tables standing in for Faust's
(no broker): each message, routed to the partition Kafka would put it on, must end exactly as the
generator says: the dead-letter reason, the rejection event type and reason, a decision, or nothing
(a duplicate). The integration test then holds the pipeline on a real broker to the same promises.
"""

from __future__ import annotations

from collections import Counter

from schemas.events import decode_event
from streams.processors.command_processor import CommandProcessor
from streams.processors.dead_letter import SourceRef, decode_dead_letter
from streams.store.arena_store import ArenaStore
from tests.support.hostile import (
    ALL_KINDS,
    BAD_KINDS,
    DUPLICATE_KIND,
    KIND_REASONS,
    VALID_KIND,
    Hostile,
    Outcome,
    generate,
    key_partition,
)

PARTITIONS = 4
SMALL = {"arenas": 6, "bad": 2_500, "partitions": PARTITIONS, "huge_genomes": 1, "huge_genome_genes": 2_000}


def _messages(seed: int) -> list[Hostile]:
    return list(generate(seed, **SMALL))


def test_the_same_seed_gives_the_same_messages_and_another_seed_others() -> None:
    assert _messages(5) == _messages(5)
    assert _messages(5) != _messages(6)


def test_every_kind_is_generated_and_the_bad_count_is_exact() -> None:
    messages = _messages(1)
    kinds = Counter(m.kind for m in messages)
    assert set(kinds) == set(ALL_KINDS), set(ALL_KINDS) - set(kinds)
    assert sum(kinds[k] for k in BAD_KINDS) == SMALL["bad"] + SMALL["huge_genomes"]
    for message in messages:
        if message.kind in BAD_KINDS:
            declared = KIND_REASONS[message.kind]
            assert (message.expected.outcome, message.expected.reason) == (declared.outcome, declared.reason)


def test_every_message_ends_as_the_generator_says_in_the_real_command_processor() -> None:
    processor = CommandProcessor(ArenaStore({}, {}, {}), partitions=PARTITIONS)
    offsets: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()
    for message in _messages(2):
        if message.partition is not None:
            partition = message.partition
        elif message.key is not None:
            partition = key_partition(message.key, PARTITIONS)
        else:
            partition = 0  # a null key lands anywhere; the processor refuses it before looking
        source = SourceRef(topic="arena.commands", partition=partition, offset=offsets[partition])
        offsets[partition] += 1
        handled = processor.handle(message.key, message.value, source)
        expected = message.expected
        where = f"{message.kind}: key={message.key!r} value={(message.value or b'')[:300]!r}"
        outcomes[expected.outcome.value] += 1
        if expected.outcome is Outcome.DEAD_LETTER:
            assert handled.dead_letter is not None and not handled.events, where
            letter = decode_dead_letter(handled.dead_letter)
            assert letter.reason == expected.reason, f"{where}: {letter.reason} {letter.message}"
            assert letter.original_value() == message.value and letter.original_key() == message.key
        elif expected.outcome is Outcome.DUPLICATE:
            assert handled.duplicate and not handled.events and handled.dead_letter is None, where
        elif expected.outcome is Outcome.REJECTED:
            assert handled.dead_letter is None and handled.rejected, where
            (event,) = (decode_event(raw) for raw in handled.events)
            payload = event.payload
            assert payload.type == expected.event_type, where
            assert payload.reason.value == expected.reason, f"{where}: {payload.reason} {payload.message}"  # type: ignore[union-attr]
        else:
            assert message.kind == VALID_KIND
            assert handled.dead_letter is None and not handled.duplicate and handled.events, where
    assert outcomes[Outcome.DUPLICATE.value] == Counter(m.kind for m in _messages(2))[DUPLICATE_KIND]
    assert processor.counters.dead_letters == outcomes[Outcome.DEAD_LETTER.value]
