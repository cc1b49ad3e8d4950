"""The store contract over plain dicts (the same cases run over real Faust tables in
tests/integration/test_store_contract.py, and must give the same observations)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from streams.store.table_names import ARENA_AGENTS, ARENA_HEADERS, ARENA_WINDOWS
from tests.support.store_cases import CASES, Observation


def run_over_dicts(name: str) -> Observation:
    tables: defaultdict[str, dict[str, Any]] = defaultdict(dict)
    return CASES[name](tables.__getitem__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_case_holds_over_plain_dicts(name: str) -> None:
    observed = run_over_dicts(name)
    assert all(observed.get(flag, True) for flag in ("equal", "empty", "unchanged")), observed


def test_a_window_of_three_keeps_three_rows() -> None:
    observed = run_over_dicts("window_rows_leave_with_their_ids")
    assert observed["rows"] == 3 == len(observed["remembered"])


def test_a_pnl_command_writes_one_row_per_table() -> None:
    observed = run_over_dicts("only_changed_rows_are_written")
    assert observed == {ARENA_HEADERS: [1, 0], ARENA_AGENTS: [1, 0], ARENA_WINDOWS: [1, 0]}
