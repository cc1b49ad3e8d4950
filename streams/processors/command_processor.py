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


# The outcome of one command message, as the metrics name it (streams/worker/web/metrics.py).
ACCEPTED, REJECTED, DUPLICATE, DEAD_LETTERED = "accepted", "rejected", "duplicate", "dead_lettered"
UNKNOWN_TYPE = "unknown"  # a message that never became a command has no type


@dataclass(slots=True)
class ProcessorCounters:
    """Plain counts, kept by the processor and read by whoever reports them (metrics, tests): a dict
    increment per message, no metrics library on the hot path."""

    commands: int = 0
    events: int = 0
    duplicates: int = 0
    rejections: int = 0
    dead_letters: int = 0
    by_dead_letter_reason: dict[str, int] = field(default_factory=dict)
    by_type_and_outcome: dict[tuple[str, str], int] = field(default_factory=dict)
    events_by_type: dict[str, int] = field(default_factory=dict)
    rejections_by_reason: dict[str, int] = field(default_factory=dict)

    def outcome(self, command_type: str, outcome: str) -> None:
        key = (command_type, outcome)
        self.by_type_and_outcome[key] = self.by_type_and_outcome.get(key, 0) + 1


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
                command_type=command.type,
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
                command_type=command.type,
            )

        before = self.store.load(command.arena_id)
        try:
            outcome = execute(before, command)
        except Exception as exc:  # a bug in the core must not stop the pipeline or lose the command
            log.exception(
                "the core failed on %s at %s[%d]@%d", command.command_id, source.topic, source.partition, source.offset
            )
            why = f"{type(exc).__name__}: {exc}"
            return self._dead(RoutingReason.PROCESSING_ERROR, why, source, key, value, command_type=command.type)
        counters = self.counters
        if outcome.duplicate:
            counters.duplicates += 1
            counters.outcome(command.type, DUPLICATE)
            return Handled(duplicate=True)
        self.store.save(before, outcome.state, outcome.events)
        encoded = outcome.wire
        refused = outcome.refused
        counters.events += len(encoded)
        by_type = counters.events_by_type
        for event in outcome.events:
            by_type[event.type] = by_type.get(event.type, 0) + 1
        if refused is None:
            counters.outcome(command.type, ACCEPTED)
        else:
            counters.rejections += 1
            counters.rejections_by_reason[refused.value] = counters.rejections_by_reason.get(refused.value, 0) + 1
            counters.outcome(command.type, REJECTED)
        return Handled(events=encoded, rejected=refused is not None)

    def _dead(
        self,
        reason: DecodeReason | RoutingReason,
        message: str,
        source: SourceRef,
        key: bytes | None,
        value: bytes | None,
        *,
        command_type: str = UNKNOWN_TYPE,
    ) -> Handled:
        self.counters.dead_letters += 1
        self.counters.by_dead_letter_reason[reason.value] = self.counters.by_dead_letter_reason.get(reason.value, 0) + 1
        self.counters.outcome(command_type, DEAD_LETTERED)
        return Handled(dead_letter=dead_letter(reason, message, source, key, value))
