"""Exactly-once on Faust: what faust-streaming 0.15 lacks, fixed at the depth where it lives.

`install(app, settings)` (install.py) is the one entry point: it checks the Faust version, attaches the
processing gate and the recovery reader to the app, and the transport selected by the broker URL
scheme `arena-kafka://` does the rest. The private Faust and aiokafka members this layer relies on are
listed in faust_private.py.

    transport.py         the Faust transport: transactional sends only, drained commits, transactions
                         ended at revocation and begun once
    gate.py              the processing gate: a message (later a batch) is a unit, commits take the gate
    offset_sequencer.py  each offset processed once, in order, none skipped
    ownership.py         a partition is continued or restarted as a whole through a rebalance
    recovery.py          restarted partitions loaded from the committed changelog
    reconcile.py         a table partition made equal to its changelog (pure)
    table.py             Faust's table, without a false partition-count mismatch
    broker_probe.py      the gate's questions to the broker
    fatal_exit.py        a worker that can no longer guarantee anything exits, bounded

May import: `streams.kafka`, Faust, aiokafka, confluent-kafka. Never the processors, stores or history.
"""
