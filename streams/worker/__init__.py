"""The worker: the Faust app with the command and ledger agents, the `arena worker` process with its
stall watchdog and exit codes, the supervised child process the main job and the tests run, and the
read side over HTTP (web/: queries, health, metrics, dashboard).

May import every layer below: `streams.eos`, `streams.processors`, `streams.store`, `streams.kafka`,
`streams.broker`, `streams.domain`, `schemas`.
"""
