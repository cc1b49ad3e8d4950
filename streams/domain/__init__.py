"""The pure core of arena-ledger: one place decides, everything else folds.

No Kafka, no clock, no I/O, no global randomness: the stream processors, replay, audit, the
simulation's expectations and the tests all call these same functions.

Deciding
    ``execute(state, command) -> Outcome(events, state, duplicate)``
        The full step a processor runs: duplicate check, ``expected_seq``, ``decide``, sealing into
        hash-chained envelopes, ``evolve``, and the core's own conservation check.
    ``decide(state, command) -> list[payload] | Rejection``
        The business rules alone.

Folding
    ``evolve(state, event) -> ArenaState``  one event (ignores already-applied seqs, raises
                                             ``SequenceGap`` on a gap)
    ``fold(events, states=None) -> dict[arena_id, ArenaState]``  replay
    ``ArenaState.empty(arena_id)``  the state before an arena's first event

Auditing
    ``Book().apply(event, digest=None, source=None) -> list[ConservationAlert]``  balances from postings
                                             only; a refused record compromises its arena (``compromise``)
    ``postings_of(payload)``  the one postings rule
    ``state_problems(state)`` / ``transition_problems(before, after, events)``  the core's checks
    ``book_state_problems(book, state)``  the book and the state tell the same money story

Persisting piecewise
    ``touched_agents(event)``, ``to_rows(state)`` / ``from_rows(rows)``,
    ``row_changes(before, after, events)``
"""

from streams.domain.book import ArenaBook, Book
from streams.domain.checks import book_state_problems, state_problems, transition_problems
from streams.domain.decide import Decision, decide
from streams.domain.evolve import SequenceGap, evolve, fold
from streams.domain.execute import Outcome, execute
from streams.domain.fitness import Fitness, fitness_of
from streams.domain.postings import postings_of
from streams.domain.rejection import Rejection
from streams.domain.rows import RowChanges, StateRows, from_rows, row_changes, to_rows, touched_agents
from streams.domain.state import AgentState, ArenaState, TierCounts

__all__ = [
    "AgentState",
    "ArenaBook",
    "ArenaState",
    "Book",
    "Decision",
    "Fitness",
    "Outcome",
    "Rejection",
    "RowChanges",
    "SequenceGap",
    "StateRows",
    "TierCounts",
    "book_state_problems",
    "decide",
    "evolve",
    "execute",
    "fitness_of",
    "fold",
    "from_rows",
    "postings_of",
    "row_changes",
    "state_problems",
    "to_rows",
    "touched_agents",
    "transition_problems",
]
