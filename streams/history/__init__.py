"""The event topic as the source of truth, read back: replay to a point, audit every check, diff two
points, tail records, and compare with the worker's live tables (read from their changelogs).

May import: `streams.kafka`, `streams.store`, `streams.domain`, `schemas`. Never Faust: the history
must be readable without a worker.
"""
