"""arena-ledger's stream processing, one layer per folder; each layer imports only the ones below it.

    cli.py, main_job.py   the top: commands a person runs; the only importers of `producers`
    worker/               the Faust app, its agents, the worker process and its supervision, the web views
    eos/                  exactly-once on Faust: transport, gate, offset sequencer, recovery
    history/              replay, audit, diff, tail, live-table comparison (never Faust)
    report/               the main job's run report (pure: model, html, svg)
    processors/           command and ledger processors, dead letters: bytes in, records out
    broker/               the local Kafka launcher and the choice of cluster
    kafka/                settings, clients, topics, partitioning, reading topics, lag
    store/                arena and ledger state as table rows; table names
    domain/               the pure core: decide, evolve, the book, the checks

`make test` enforces the arrows (import-linter contracts in pyproject.toml).
"""
