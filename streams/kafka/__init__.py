"""Everything that talks to Kafka outside the Faust worker: settings (every environment variable is
read here), the one client factory, the one retry policy, the topic layout, partitioning, reading
topics and changelogs as they stand, and consumer lag.

May import: `streams.store` (table names, for the changelog topics), `streams.domain`, `schemas`,
confluent-kafka. Never Faust.
"""
