"""The worker's read side over HTTP: queries over its tables, health, metrics and a live dashboard.

    install.py     serve_web(...): everything below assembled and served once per worker process
    served.py      the roles the process runs (commands, ledger), each with its gate and partitions
    server.py      the aiohttp server as a service of the Faust app (up before the first assignment)
    guard.py       the token check on every request; errors.py: every error a JSON answer
    local.py       what this worker's tables can answer now (partitions served, committed or not)
    routing.py     who owns an arena's partition (Faust's assignment), proxy and fan-out
    queries.py     /arenas, /arenas/{id}, /arenas/{id}/agents[/{agent}]
    readiness.py   /health and /ready
    metrics.py     /metrics: counters read from the processors, histograms fed by the exactly-once layer
    sampler.py     lag and throughput sampled off the event loop (metrics and the dashboard's charts)
    timeline.py    /timeline: the samples as counts per period, every worker added up
    recent.py      the latest alerts and dead letters, read from their topics
    dashboard.py   / : one self-contained page (dashboard.html) that refreshes itself from the endpoints
    client.py      a small HTTP client for `arena query` (standard library only)

Everything is read-only: the only method served is GET (and HEAD).
"""
