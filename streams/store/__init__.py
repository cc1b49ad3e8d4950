"""State kept as rows of key-value tables: the arena store and the ledger store, their row keys, and
the tables' names (from which the changelog topics are named).

The tables are Faust tables in the worker and plain dicts in tests and in the audit's reading of the
changelogs: stores see only `MutableMapping`s, so the same code runs over both.

May import: `streams.domain`, `schemas`. Never Kafka, Faust or I/O.
"""
