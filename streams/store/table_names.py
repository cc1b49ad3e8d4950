"""The worker's tables and their changelog topics, named in one place.

The worker creates the tables (streams/worker/app.py), the topic layout creates their changelog topics
before any worker joins its group (streams/kafka/topics.py), and the audit reads them back
(streams/history/live_state.py): all three must agree on the names, so they come from here. Faust names a
table's changelog topic `<app id>-<table>-changelog`.
"""

from __future__ import annotations

ARENA_HEADERS = "arena-headers"  # one small row per arena
ARENA_AGENTS = "arena-agents"  # one row per agent
ARENA_WINDOWS = "arena-windows"  # one row per remembered command id / fill ref
LEDGER_HEADS = "ledger-heads"  # the ledger processor's head of each arena
LEDGER_ACCOUNTS = "ledger-accounts"  # the ledger processor's balance of each account

ARENA_TABLES = (ARENA_HEADERS, ARENA_AGENTS, ARENA_WINDOWS)
LEDGER_TABLES = (LEDGER_HEADS, LEDGER_ACCOUNTS)
ALL_TABLES = ARENA_TABLES + LEDGER_TABLES

# The ledger processor runs as a Faust app of its own, `<app id>-ledger`, whose tables are named so that
# its changelog topics are the ledger tables' (`<app id>-ledger-heads-changelog`): the app's table name
# for each ledger table.
LEDGER_APP_TABLE_NAMES = {LEDGER_HEADS: "heads", LEDGER_ACCOUNTS: "accounts"}


def changelog_topic(app_id: str, table: str) -> str:
    return f"{app_id}-{table}-changelog"
