"""The two processors minus Kafka: a command message in, its events or a dead letter out; an event
in, its alerts out. Each is a thin shell around the pure core and a store.

May import: `streams.store`, `streams.domain`, `streams.kafka.partitioning` (the pure murmur2 rule
of which partition owns an arena), `schemas`. Never a Kafka client or Faust.
"""
