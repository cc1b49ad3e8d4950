"""One command message in, its events (or one dead letter) out: the command processor minus Kafka.

The Faust agent (streams/worker/app.py) is a loop around `CommandProcessor.handle`: it sends what
`handle` returns to the events or dead-letter topic, on the partition the command came from, inside
the same transaction that commits the command's offset and the table rows `handle` wrote. Keeping
the decisions here makes every refusal path testable without a broker, and keeps the agent thin.

The order of checks is the order in which a message can be wrong: no key, not a command, a key that
disagrees with the command, a partition that does not own the arena. Only then does the pure core
decide; its rejections are events, never dead letters.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from schemas.commands import CommandDecodeError, DecodeReason, parse_command
from streams.domain import execute
from streams.kafka.partitioning import partition_for
from streams.processors.dead_letter import RoutingReason, SourceRef, dead_letter
from streams.store.arena_store import ArenaStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Handled:
    """What one command message produced: encoded events, or a dead letter, or nothing (a duplicate)."""

    events: tuple[bytes, ...] = ()
    dead_letter: bytes | None = None
    duplicate: bool = False
    rejected: bool = False


@dataclass(slots=True)
class ProcessorCounters:
    commands: int = 0
    events: int = 0
    duplicates: int = 0
    rejections: int = 0
    dead_letters: int = 0
    by_dead_letter_reason: dict[str, int] = field(default_factory=dict)


class CommandProcessor:
    def __init__(self, store: ArenaStore, *, partitions: int) -> None:
        self.store = store
        self.partitions = partitions
        self.counters = ProcessorCounters()

    def handle(self, key: bytes | None, value: bytes | None, source: SourceRef) -> Handled:
        """One command message as a unit of its own: decided, and its rows written."""
        handled = self._process(key, value, source)
        self.store.flush()
        return handled

    def handle_batch(self, messages: Sequence[tuple[bytes | None, bytes | None, SourceRef]]) -> list[Handled]:
        """Several command messages as one unit, in order: each decided on the state the previous left,
        and every changed row written once, at the end."""
        handled = [self._process(key, value, source) for key, value, source in messages]
        self.store.flush()
        return handled

    def _process(self, key: bytes | None, value: bytes | None, source: SourceRef) -> Handled:
        self.counters.commands += 1
        if value is None:
            return self._dead(
                RoutingReason.NULL_VALUE, "the message has no value (a tombstone is not a command)", source, key, value
            )
        if key is None:
            return self._dead(RoutingReason.NULL_KEY, "commands must be keyed by arena id", source, key, value)
        try:
            command = parse_command(value)
        except CommandDecodeError as exc:
            return self._dead(exc.reason, exc.message, source, key, value)
        if key != command.arena_id.encode("utf-8"):
            return self._dead(
                RoutingReason.KEY_MISMATCH,
                f"key {key.decode('utf-8', errors='replace')!r} differs from the command's arena_id "
                f"{command.arena_id!r}",
                source,
                key,
                value,
            )
        owner = partition_for(command.arena_id, self.partitions)
        if owner != source.partition:
            return self._dead(
                RoutingReason.WRONG_PARTITION,
                f"arena {command.arena_id!r} belongs to partition {owner} (murmur2 of the key), not "
                f"{source.partition}: the producer must use Kafka's default partitioner (murmur2_random "
                "in librdkafka)",
                source,
                key,
                value,
            )

        before = self.store.load(command.arena_id)
        try:
            outcome = execute(before, command)
        except Exception as exc:  # a bug in the core must not stop the pipeline or lose the command
            log.exception(
                "the core failed on %s at %s[%d]@%d", command.command_id, source.topic, source.partition, source.offset
            )
            return self._dead(RoutingReason.PROCESSING_ERROR, f"{type(exc).__name__}: {exc}", source, key, value)
        if outcome.duplicate:
            self.counters.duplicates += 1
            return Handled(duplicate=True)
        self.store.save(before, outcome.state, outcome.events)
        encoded = outcome.wire
        rejected = outcome.rejected
        self.counters.events += len(encoded)
        self.counters.rejections += int(rejected)
        return Handled(events=encoded, rejected=rejected)

    def _dead(
        self,
        reason: DecodeReason | RoutingReason,
        message: str,
        source: SourceRef,
        key: bytes | None,
        value: bytes | None,
    ) -> Handled:
        self.counters.dead_letters += 1
        self.counters.by_dead_letter_reason[reason.value] = self.counters.by_dead_letter_reason.get(reason.value, 0) + 1
        return Handled(dead_letter=dead_letter(reason, message, source, key, value))
