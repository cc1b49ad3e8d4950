"""What `arena audit` and `arena replay` print: one row per check, under its own name, and one summary.

The rows come from the check enums themselves (``schemas.alerts.Check`` and ``streams.history.audit.AuditCheck``,
with their titles), never from a list of codes kept here, so a new check gets its row by existing and
a failure is always counted under the check that found it. Offsets are printed in the form
``--from``/``--to`` accept (``PARTITION:OFFSET,...``), so a summary can be pasted back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Final

from schemas.alerts import CHECK_TITLES, Check
from streams.history.audit import AUDIT_CHECK_TITLES, AuditCheck, AuditResult, counted
from streams.history.live_state import StateDifference

_WIDTH: Final = 30
ROWS: Final[tuple[tuple[Check | AuditCheck, str], ...]] = (*CHECK_TITLES.items(), *AUDIT_CHECK_TITLES.items())


def offsets_text(offsets: Mapping[int, int]) -> str:
    """``0:0,1:15``: per partition, in the form ``--from``/``--to`` take."""
    return ",".join(f"{partition}:{offset}" for partition, offset in sorted(offsets.items())) or "(no partition)"


def replay_summary(audit: AuditResult, *, topic: str, end: Mapping[int, int], seconds: float) -> str:
    """The one line a replay ends with: how much, up to where, how long, and the verdict."""
    return (
        f"replayed {counted(audit.event_count, 'event')} of {topic} up to {offsets_text(end)} (exclusive) "
        f"in {seconds:.1f}s; {audit.verdict()}"
    )


def audit_lines(
    audit: AuditResult,
    *,
    topic: str,
    start: Mapping[int, int],
    end: Mapping[int, int],
    seconds: float,
    limit: int,
) -> Iterator[str]:
    """The audit of the event topic: a header, one row per check, then the evidence of each failure."""
    yield (
        f"audited {topic}: {counted(audit.event_count, 'event')} of {counted(len(audit.states), 'arena')}, "
        f"offsets {offsets_text(start)} .. {offsets_text(end)} (exclusive), {seconds:.1f}s"
    )
    yield f"  {'check':<{_WIDTH}} result"
    for check, title in ROWS:
        failures = audit.failures(check)
        yield f"  {title:<{_WIDTH}} {'ok' if failures == 0 else f'FAILED x{failures}'}"
    evidence = [alert for alert in audit.alerts if alert.check is not Check.ARENA_COMPROMISED]
    for alert in evidence[:limit]:
        where = f" at {alert.source.where()}" if alert.source is not None else ""
        yield (
            f"  ! {alert.check.value} arena={alert.arena_id} event={alert.event_id} seq={alert.seq}{where} "
            f"expected={alert.expected} actual={alert.actual}: {alert.message}"
        )
    yield from _more(len(evidence), limit, "alert")
    for finding in audit.findings[:limit]:
        yield f"  ! {finding.check.value}: {finding.text}"
    yield from _more(len(audit.findings), limit, "finding")
    for arena_id, compromise in audit.compromised().items():
        yield f"  ! COMPROMISED {compromise.summary(arena_id)}"
    if audit.disowned:
        listed = ", ".join(source.where() for source in audit.disowned[:limit])
        yield f"  disowned (left out on request): {listed}"


def live_lines(app_id: str, differences: Sequence[StateDifference], held: Sequence[str], limit: int) -> Iterator[str]:
    """The comparison with the worker's live tables (arenas held by an incident are not compared)."""
    title = f"live state ({app_id})"
    yield f"  {title:<{_WIDTH}} {'equal' if not differences else f'{len(differences)} difference(s)'}"
    for difference in differences[:limit]:
        yield f"  ! arena {difference.arena_id}: {difference.what}"
    yield from _more(len(differences), limit, "difference")
    for arena_id in held:
        yield f"  arena {arena_id}: not compared (compromised: the replay holds it at its last good event)"


def _more(count: int, limit: int, what: str) -> Iterator[str]:
    if count > limit:
        yield f"  … {count - limit} more {what}(s) (--limit to show more)"
