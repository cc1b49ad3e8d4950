"""The roles this process runs, as the web endpoints see them.

A worker runs the command processor, the ledger processor or both (`ARENA_WORKER_ROLE`), each a Faust
app and consumer group of its own (streams/worker/app.py). The two groups assign their partitions
independently, so a worker that runs both may hold partition 3 of the command topic and not partition
3 of the event topic: every question about partitions is asked of one role.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.eos.gate import ProcessingGate
from streams.processors.command_processor import CommandProcessor
from streams.processors.ledger_processor import LedgerProcessor


@dataclass(frozen=True)
class Served:
    name: str  # "commands" | "ledger"
    app: faust.App
    gate: ProcessingGate
    source_topic: str
    processor: CommandProcessor | LedgerProcessor

    def assigned(self) -> list[int]:
        """Partition numbers of the role's source topic assigned to it."""
        return sorted({tp.partition for tp in self.gate.assigned if tp.topic == self.source_topic})

    def serving(self) -> frozenset[int]:
        """The partitions whose tables the role answers for now: assigned, recovered (or kept through the
        last rebalance because they were committed), no rebalance under way, not failing."""
        gate = self.gate
        if gate.transactions_open is not True or gate.exit.code is not None or gate.taint is not None:
            return frozenset()
        return frozenset(p for p in self.assigned() if gate.ownership.continues(p))

    def serves(self, partition: int) -> bool:
        return partition in self.serving()


def commands_of(roles: list[Served]) -> tuple[Served, CommandProcessor] | None:
    for role in roles:
        if isinstance(role.processor, CommandProcessor):
            return role, role.processor
    return None


def ledger_of(roles: list[Served]) -> tuple[Served, LedgerProcessor] | None:
    for role in roles:
        if isinstance(role.processor, LedgerProcessor):
            return role, role.processor
    return None


__all__ = ["Served", "commands_of", "ledger_of"]
