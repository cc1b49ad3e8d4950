"""schemas/README.md, the contract page, says what the code does: its examples and tables are checked."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from schemas.alerts import CHECK_TITLES, Check
from schemas.commands import parse_command
from schemas.dead_letters import REASON_MEANINGS
from schemas.events import canonical_bytes, digest, encode_event
from schemas.rejections import KIND_BY_COMMAND, KIND_BY_REASON, Reason
from streams.domain import ArenaState, execute

from .test_event_wire import _every_event_type

PAGE = (Path(__file__).resolve().parents[2] / "schemas" / "README.md").read_text(encoding="utf-8")


def _block_after(marker: str) -> str:
    """The fenced block that follows ``<!-- marker -->``."""
    found = re.search(rf"<!-- {re.escape(marker)} -->\n```[a-z]*\n(.*?)\n```", PAGE, re.DOTALL)
    assert found, f"no block after <!-- {marker} -->"
    return found.group(1)


def _table(marker: str) -> list[list[str]]:
    """The rows of the markdown table between ``<!-- marker -->`` and ``<!-- /marker -->``."""
    found = re.search(rf"<!-- {re.escape(marker)} -->\n(.*?)\n<!-- /{re.escape(marker)} -->", PAGE, re.DOTALL)
    assert found, f"no table <!-- {marker} -->"
    lines = found.group(1).splitlines()[2:]  # after the header and its rule
    return [[cell.strip().strip("`") for cell in line.strip("|").split("|")] for line in lines]


def _stdlib_canonical(doc: dict[str, Any]) -> bytes:
    """The page's recipe, in the standard library only."""
    body = {key: value for key, value in doc.items() if key != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _kcat_commands() -> list[tuple[str, bytes]]:
    """(key, value) of every ``printf '%s\\t%s\\n' KEY 'JSON'`` line of the kcat example."""
    lines = re.findall(r"printf '%s\\t%s\\n' (\S+) '(\{.*\})'", PAGE)
    assert lines, "the page has no kcat command lines"
    return [(key, value.encode()) for key, value in lines]


def test_the_worked_hash_example_hashes_to_its_hash_by_the_recipe_on_the_page() -> None:
    written = _block_after("hash-example:written")
    doc = json.loads(written)
    canonical = _block_after("hash-example:canonical").encode()
    expected_hash = _block_after("hash-example:hash")
    assert _stdlib_canonical(doc) == canonical == canonical_bytes(doc)
    assert f"({len(canonical)} bytes" in PAGE
    assert hashlib.sha256(canonical).hexdigest() == expected_hash == doc["hash"] == digest(doc)
    # As the page says: the record minus its hash member is the canonical bytes.
    assert written.encode().replace(f',"hash":"{expected_hash}"'.encode(), b"") == canonical


def test_the_worked_example_is_what_the_core_writes_for_the_page_s_first_commands() -> None:
    (create_key, create), (fund_key, fund) = _kcat_commands()[:2]
    assert create_key == fund_key == "demo"
    first = execute(ArenaState.empty("demo"), parse_command(create))
    second = execute(first.state, parse_command(fund))
    (created,) = first.events
    (funded,) = second.events
    assert second.wire[0].decode() == _block_after("hash-example:written") == encode_event(funded).decode()
    assert funded.prev_hash == created.hash and created.hash.startswith("b4ffb490")
    assert "occurred_at` 1700000000000" in PAGE and created.occurred_at == 1_700_000_000_000


def test_every_kcat_command_on_the_page_is_a_valid_command_keyed_by_its_arena_and_ends_as_the_page_says() -> None:
    state = ArenaState.empty("demo")
    outcomes = []
    for key, value in _kcat_commands():
        command = parse_command(value)
        assert command.arena_id == key
        outcome = execute(state, command)
        state = outcome.state
        outcomes.append(outcome)
    assert all(o.events[0].type not in {"CommandRejected", "AllocationError"} for o in outcomes[:-1])
    refusal: Any = outcomes[-1].events[0].payload
    assert (refusal.reason.value, refusal.error_kind.value) == ("INSUFFICIENT_TREASURY", "InsufficientFundsError")
    assert "`INSUFFICIENT_TREASURY`,\n`InsufficientFundsError`" in PAGE


def test_the_stdlib_recipe_gives_the_canonical_bytes_of_every_event_type() -> None:
    events = _every_event_type().events
    assert {event.type for event in events} >= {"ArenaCreated", "PnLRecorded", "AllocationError", "AgentMutated"}
    for event in events:
        doc = json.loads(encode_event(event))
        assert _stdlib_canonical(doc) == canonical_bytes(doc), event.type


def test_the_reason_to_kind_table_on_the_page_is_the_code_s() -> None:
    rows = []
    for reason in Reason:
        if reason in KIND_BY_REASON:
            rows.append([reason.value, "any", KIND_BY_REASON[reason].value])
        else:
            rows.extend([reason.value, command, kind.value] for command, kind in KIND_BY_COMMAND[reason].items())
    expected = "\n".join(f"| `{r}` | {'any' if c == 'any' else f'`{c}`'} | `{k}` |" for r, c, k in rows)
    assert _table("kind-table") == rows, f"the table should read:\n{expected}"


def test_the_dead_letter_reasons_on_the_page_are_every_reason_with_its_meaning() -> None:
    assert _table("dead-letter-reasons") == [[code, meaning] for code, meaning in REASON_MEANINGS.items()]


def test_every_check_is_on_the_page_with_the_audit_s_row_name() -> None:
    assert [row[:2] for row in _table("checks")] == [[check.value, CHECK_TITLES[check]] for check in Check]
