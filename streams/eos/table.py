"""Faust's table, whose partition check tells "no metadata yet" from a real mismatch.

On the first write from each source topic, Faust compares the source topic's partition count with
the changelog's, from the consumer's metadata cache. Right after a broker restart that cache can list
the changelog with 0 partitions; Faust then raises PartitionsMismatch in the middle of a message,
and the processing gate has to stop the worker (the broker-restart test caught it). A count of 0
means "unknown" here: the pipeline creates every topic with the same partition count
(streams/kafka/topics.py), so the check is made again on a later write, when the metadata is back.
"""

from __future__ import annotations

from faust.tables import Table


class CoPartitionedTable(Table):  # type: ignore[type-arg]  # Faust's generic table, keys and rows as JSON
    def _verify_source_topic_partitions(self, source_topic: str) -> None:
        consumer = self.app.consumer
        if not consumer.topic_partitions(source_topic) or not consumer.topic_partitions(self.changelog_topic_name):
            return  # not known yet: the check runs again on the next write
        super()._verify_source_topic_partitions(source_topic)
