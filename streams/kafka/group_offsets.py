"""A consumer group's committed offsets, carried over to a group that takes its work over.

The ledger processor used to share the worker's consumer group; it now has a group of its own
(`<app id>-ledger`). A ledger group starting with no committed offsets while the worker's group has
some on the event topic would check every event again on top of the tables it recovers — and raise a
duplicate alert for each — so before it first joins, it starts where the worker's group had got to.
"""

from __future__ import annotations

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from streams.kafka.clients import new_admin
from streams.kafka.settings import Settings
from streams.kafka.topic_reader import committed_offsets


def carry_over(settings: Settings, *, topic: str, from_group: str, to_group: str) -> dict[int, int]:
    """Give `to_group` the committed offsets of `from_group` on `topic` if it has none; returns what it got."""
    if any(offset >= 0 for offset in committed_offsets(settings, to_group, topic).values()):
        return {}
    found = {p: o for p, o in committed_offsets(settings, from_group, topic).items() if o >= 0}
    if not found:
        return {}
    admin = new_admin(settings, "group-offsets")
    request = ConsumerGroupTopicPartitions(to_group, [TopicPartition(topic, p, o) for p, o in sorted(found.items())])
    for future in admin.alter_consumer_group_offsets([request]).values():
        future.result()
    return found
