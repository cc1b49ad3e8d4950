"""The bare baseline of the end-to-end benchmark: a transactional consume -> produce copy loop.

    python -m benchmarks.e2e.bare_loop --input T --output T --group G --transactional-id X [--commit-interval 0.5]

Run as a child process by ``benchmarks.e2e`` (the worker is a child process too, so both pay for
their own interpreter and neither shares the harness's GIL). It does what any exactly-once
consume-transform-produce loop must do, and nothing else:

- a consumer in group ``G`` subscribed to the input topic, ``isolation.level=read_committed``,
  ``enable.auto.commit=false``, from the earliest offset;
- one producer with ``transactional.id`` ``X`` (idempotent, acks=all by implication);
- each message copied, bytes as they are, to the same partition number of the output topic (the
  pipeline's topics are co-partitioned, and so are these); with ``--fanout K`` the input at offset o
  is written floor((o+1)K) - floor(oK) times, K on average (2.6: 2 or 3 copies, 6 of 10 times 3), as
  many records per input as the pipeline writes, so the comparison is like with like;
- every ``--commit-interval`` seconds (the worker's cadence), if anything was copied:
  ``send_offsets_to_transaction`` + ``commit_transaction``, then ``begin_transaction``. A revoked
  assignment commits first, so a second process taking the partitions over never copies twice.
  Each commit is logged as ``COMMIT <epoch> copied=<total> last_copy=<epoch of the last copy>``.

The cluster and its security settings come from the environment (``Settings.from_env``), as the
worker's do. On its first assignment it logs ``READY <epoch seconds>``; the harness starts its clock
there. SIGTERM (or SIGINT) commits what is open and exits.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import time
from types import FrameType

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

from streams.kafka.settings import Settings

TXN_TIMEOUT_S = 30.0


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class BareLoop:
    def __init__(self, args: argparse.Namespace) -> None:
        settings = Settings.from_env()
        self.input: str = args.input
        self.output: str = args.output
        self.interval: float = args.commit_interval
        self.batch: int = args.batch
        self.fanout: float = args.fanout
        self.consumer = Consumer(
            settings.client_config(
                {
                    "group.id": args.group,
                    "isolation.level": "read_committed",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "session.timeout.ms": 10_000,  # the worker's (WorkerOptions.session_timeout_s)
                }
            )
        )
        self.producer = Producer(settings.client_config({"transactional.id": args.transactional_id}))
        self.pending: dict[int, int] = {}  # partition -> next offset, copied in the open transaction
        self.opened = time.monotonic()
        self.copied = 0
        self.last_copy = 0.0  # epoch of the last message copied
        self.commits = 0
        self.ready = False
        self.stop = False

    def on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if not self.ready:
            self.ready = True
            _log(f"READY {time.time():.6f} {len(partitions)} partition(s)")

    def on_revoke(self, _consumer: Consumer, _partitions: list[TopicPartition]) -> None:
        # The next owner starts from the committed offsets: commit what this process has copied first.
        self.commit()

    def commit(self) -> None:
        if self.pending:
            offsets = [TopicPartition(self.input, p, o) for p, o in sorted(self.pending.items())]
            self.producer.send_offsets_to_transaction(offsets, self.consumer.consumer_group_metadata(), TXN_TIMEOUT_S)
            self.producer.commit_transaction(TXN_TIMEOUT_S)
            self.commits += 1
            _log(f"COMMIT {time.time():.6f} copied={self.copied} last_copy={self.last_copy:.6f}")
            self.pending.clear()
            self.producer.begin_transaction()
        self.opened = time.monotonic()

    def run(self) -> None:
        self.producer.init_transactions(TXN_TIMEOUT_S)
        self.producer.begin_transaction()
        self.consumer.subscribe([self.input], on_assign=self.on_assign, on_revoke=self.on_revoke)
        produce = self.producer.produce
        while not self.stop:
            for message in self.consumer.consume(self.batch, 0.05):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(error)
                partition = message.partition() or 0
                offset = message.offset() or 0
                copies = math.floor((offset + 1) * self.fanout) - math.floor(offset * self.fanout)
                value, key = message.value(), message.key()
                for _copy in range(copies):
                    while True:
                        try:
                            produce(self.output, value=value, key=key, partition=partition)
                            break
                        except BufferError:
                            self.producer.poll(0.05)
                self.pending[partition] = (message.offset() or 0) + 1
                self.copied += 1
                self.last_copy = time.time()
            self.producer.poll(0)
            if time.monotonic() - self.opened >= self.interval:
                self.commit()
        self.commit()
        self.producer.abort_transaction(TXN_TIMEOUT_S)  # the empty transaction begun by the last commit
        self.consumer.close()
        _log(f"DONE copied={self.copied} commits={self.commits}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e.bare_loop", description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--transactional-id", required=True)
    parser.add_argument("--commit-interval", type=float, default=0.5)
    parser.add_argument("--batch", type=int, default=500, help="messages per consume() call")
    parser.add_argument("--fanout", type=float, default=1.0, help="records written per input, on average")
    args = parser.parse_args(argv)
    loop = BareLoop(args)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        loop.stop = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
