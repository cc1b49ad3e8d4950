"""End-to-end benchmark: the exactly-once Faust worker against a bare transactional copy loop.

    python -m benchmarks.e2e [--commands 20000] [--partitions 4] [--workers 1] [--agents 100]
                                   [--rate auto] [--duration 20] [--scale] [--py-spy FILE] [--json out.json]

Everything runs on the project's cluster (``ensure_cluster``: the local KRaft broker unless
``KAFKA_BOOTSTRAP_SERVERS`` is set), in topics named ``bench-e2e-<run>-<case>-...`` that no one else
uses; they, the worker's changelog topics and the consumer groups are deleted at the end
(``--keep-topics`` keeps them). The commands are a seeded simulation (``producers.simulation``:
arenas set up on day 0, then one RecordPnL per alive agent per day and an evolution cycle every 5
days), decided by the pure core as they are generated, so the number of events the pipeline must
write is known in advance.

Figures (the baseline runs in the same run, on the same broker, over the same messages):

  end to end   N commands are published first (pre-loaded: the producer is not measured), then the
               worker(s) start (``running_worker``, ``--workers`` processes with one app id). The clock
               starts at the (first) worker's "Ready" (its log line's timestamp: after group join and
               table recovery) and stops when the worker's group has committed every command offset
               (lag 0) AND a read_committed reader has seen exactly the expected number of events AND
               the ledger group has applied all of them (then 1 s more must bring no extra one).
               ``--split`` runs each worker as two processes (``--role commands``, ``--role ledger``).
               Reported: commands/s over that window, the steady rate
               between 20 % and 80 % of the commands committed, the setup (day 0) and trading phases
               separately, the worker's CPU (user+sys from /proc) per command and cores in use (a shared
               machine drifts in wall time, much less in CPU time), and the records it wrote per command.
               Baseline: ``benchmarks.e2e.bare_loop`` (consume read_committed -> produce in a transaction ->
               send_offsets_to_transaction -> commit, on the worker's commit interval) copying the same
               pre-loaded command topic to another topic, same partitions, same number of processes,
               clock from its first assignment to lag 0 and every copy readable, sized by a pilot run to
               at least 5 s of messages. A second baseline, the fan-out loop, writes as many records per
               input as the pipeline wrote per command. Run before and after the pipeline; the faster is
               the baseline. ``ARENA_BENCH_COMMIT_INTERVAL_S`` sets the commit interval of both.
  latency      The worker runs and has answered a probe command on every partition; then commands are
               published at a fixed rate (``--rate`` for ``--duration`` s), and a read_committed reader
               notes when each command's first event (by causation id) becomes readable. p50 / p99 / max
               of (readable - published), the first ``--warmup`` s excluded; the JSON has a per-second
               timeline (published, committed, readable). ``--rate auto``: 2,000/s capped to half the
               end-to-end throughput; a run whose backlog exceeds 5 s of offered load is SATURATED,
               stopped and retried at half the rate (latency above saturation only measures the queue).
               Baseline: the bare loop under the same offered load, same commands.
  scale        (``--scale``) the end-to-end figure for partitions x workers (1, 4, 12 x 1, 2) and for one
               arena of 100, 1,000, 10,000 agents (one partition, one worker), with a smaller N; the
               agent rows compare the trading phase, i.e. commands against an arena of that size.

``--py-spy FILE`` profiles the worker(s) during the end-to-end figure (raw collapsed stacks; the figure
is then flagged, since sampling slows the worker) and during the latency figure (FILE-latency);
``--py-spy-idle`` samples waiting threads too (wall time, for a worker that waits rather than computes);
``python -m benchmarks.profile_summary FILE`` ranks what the time went to.
"""
