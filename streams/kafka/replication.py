"""How many in-sync replicas a write needs, for a given replication factor: one rule for the broker
launcher's cluster settings and for the topics the project creates."""

from __future__ import annotations


def min_insync_for(replication: int) -> int:
    """The min ISR that keeps one replica's loss writable without trusting a single copy: 2 of 3, 1 of 1."""
    return max(1, min(2, replication - 1))
