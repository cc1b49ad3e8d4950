"""The one rule for a partition through a rebalance: continued whole, or restarted whole."""

from __future__ import annotations

from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st

from streams.eos.ownership import Ownership

SOURCES = ("arena.commands", "arena.events")
CHANGELOG = "app-ledger-accounts-changelog"


def tps(*partitions: int, topics: tuple[str, ...] = SOURCES) -> set[TP]:
    return {TP(topic, p) for topic in topics for p in partitions}


def test_the_first_assignment_restarts_every_partition() -> None:
    ownership = Ownership()
    assert ownership.rebalanced(1, tps(0, 1), set(), tps(0, 1)) == {0, 1}


def test_a_kept_partition_continues_once_its_recovery_completed() -> None:
    ownership = Ownership()
    ownership.rebalanced(1, tps(0, 1), set(), tps(0, 1))
    ownership.recovered({0, 1})
    assert ownership.rebalanced(2, tps(0), tps(1), set()) == frozenset()
    assert ownership.continues(0) and not ownership.continues(1)


def test_a_newly_assigned_changelog_restarts_its_partition_although_the_sources_were_kept() -> None:
    """Issue 12: the changelog topic appeared mid-run; rows and position must go back together."""
    ownership = Ownership()
    ownership.rebalanced(1, tps(0, 1), set(), tps(0, 1))
    ownership.recovered({0, 1})
    changelogs = tps(0, 1, topics=(CHANGELOG,))
    assert ownership.rebalanced(2, tps(0, 1) | changelogs, set(), changelogs) == {0, 1}


def test_a_transaction_that_did_not_commit_at_revocation_restarts_its_partition() -> None:
    ownership = Ownership()
    ownership.rebalanced(1, tps(0, 1), set(), tps(0, 1))
    ownership.recovered({0, 1})
    ownership.transaction_failed({1})
    assert not ownership.continues(1)
    assert ownership.rebalanced(2, tps(0, 1), set(), set()) == {1}
    ownership.recovered({1})
    assert ownership.rebalanced(3, tps(0, 1), set(), set()) == frozenset(), "a failure counts for one rebalance"


def test_a_missed_generation_restarts_everything() -> None:
    ownership = Ownership()
    ownership.rebalanced(1, tps(0, 1), set(), tps(0, 1))
    ownership.recovered({0, 1})
    assert ownership.rebalanced(3, tps(0, 1), set(), set()) == {0, 1}


def test_a_recovery_that_never_completed_restarts_its_partitions_next_time() -> None:
    ownership = Ownership()
    ownership.rebalanced(1, tps(0), set(), tps(0))
    ownership.recovered({0})
    ownership.rebalanced(2, tps(0, 1), set(), tps(1))  # interrupted before on_recovery_completed
    assert ownership.rebalanced(3, tps(0, 1), set(), set()) == {1}


@given(
    st.lists(
        st.tuples(st.frozensets(st.integers(0, 5)), st.booleans(), st.frozensets(st.integers(0, 5)), st.booleans()),
        max_size=12,
    )
)
def test_a_partition_continues_only_if_it_was_owned_recovered_untouched_and_committed(
    steps: list[tuple[frozenset[int], bool, frozenset[int], bool]],
) -> None:
    ownership = Ownership()
    previous: set[TP] = set()
    recovered: set[int] = set()
    generation = 0
    for owned, skip_generation, failed, completes in steps:
        ownership.transaction_failed(failed)
        recovered -= failed
        assigned = tps(*owned)
        revoked, new = previous - assigned, assigned - previous
        generation += 2 if skip_generation else 1
        restarted = ownership.rebalanced(generation, assigned, revoked, new)
        touched = {tp.partition for tp in revoked | new} | failed
        if skip_generation:
            recovered.clear()
        recovered = (recovered - touched) & set(owned)
        assert restarted == set(owned) - recovered
        if completes:
            ownership.recovered(owned)
            recovered |= set(owned)
        previous = assigned
