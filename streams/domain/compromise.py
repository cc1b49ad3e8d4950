"""What the book does after an integrity alert: the arena is compromised, said once, then held.

Only the worker writes ``arena.events``, and the core refuses to publish anything that breaks its
own checks. So an event the book finds wrong is either not the worker's (written by someone else:
a forgery, a copy, a producer with other rules) or the core and the book disagree (a defect). Either
way the book can no longer vouch for the arena, and checking each later event against a book that
may be wrong only produces noise: with a forged seq ahead of the worker's, every later event of the
arena was a ``SEQ_DUPLICATE``, and the book followed the forgery.

So, per arena:

1. A record that fails any check is **never applied**: the book stays at the arena's last good event.
2. The first such record starts an **incident**: its evidence alerts, then one ``ARENA_COMPROMISED``
   alert naming where it is (``topic[partition]@offset``), the first bad event, its seq and the
   checks it failed.
3. While the incident lasts the arena's records are checked **quietly** against the last good event:
   one that continues its chain (next seq, ``prev_hash`` equal to the last good hash) and passes
   every check is applied and ends the incident (the bad record was stepped over: a forgery inserted
   into the topic never reaches the book); any other is held (counted, not applied, no alert).
4. A later failure after the chain resumed is a new incident, said once again.

An exact redelivery of the last applied event (same seq, same hash) cannot change anything: it is
reported as ``SEQ_DUPLICATE`` but is no incident.

What stays on the arena's book (``Compromise``): the first bad record, the number of incidents, the
records held, whether it is still holding and where its chain resumed. The audit reports it; the
operator's procedure is in ``schemas/README.md`` ("After an integrity alert").
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

from schemas.alerts import Check, ConservationAlert
from schemas.fields import SourceRef

RECOVERY_HINT: Final = "see 'After an integrity alert' in schemas/README.md"


@dataclass(slots=True)
class Compromise:
    """An arena's integrity incidents, as the book keeps them (and the ledger persists them)."""

    first_where: str  # topic[partition]@offset of the first bad record ("" when not known)
    first_event_id: str
    first_seq: int
    first_checks: tuple[str, ...]
    trusted_seq: int  # the last good event when the first incident started
    incidents: int = 1
    held: int = 0  # records not applied during incidents, the first bad ones included
    holding: bool = True  # False once an event continued the trusted chain
    resumed_at: str = ""  # where the chain last continued

    def row(self) -> dict[str, Any]:
        row = asdict(self)
        row["first_checks"] = list(self.first_checks)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Compromise:
        return cls(**{**row, "first_checks": tuple(row["first_checks"])})

    def summary(self, arena_id: str) -> str:
        """One line for people: where it started and where it stands."""
        start = f"arena {arena_id} compromised at {self.first_where or f'seq {self.first_seq}'}"
        state = (
            f"holding since seq {self.trusted_seq}: its later records are not checked"
            if self.holding
            else f"its chain continued at {self.resumed_at}"
        )
        return (
            f"{start}, first bad event {self.first_event_id} (seq {self.first_seq}: {', '.join(self.first_checks)}); "
            f"{self.incidents} incident(s), {self.held} record(s) not applied; {state}"
        )


def where_of(source: SourceRef | None) -> str:
    return source.where() if source is not None else ""


def compromised_alert(
    arena_id: str,
    *,
    event_id: str,
    seq: int,
    checks: list[str],
    trusted_seq: int,
    trusted_hash: str,
    source: SourceRef | None,
    again: bool,
) -> ConservationAlert:
    """The one alert an incident raises: what happened, where, and what the book does from now on."""
    where = where_of(source)
    place = where or f"seq {seq}"
    return ConservationAlert(
        alert_id=f"{arena_id}:{Check.ARENA_COMPROMISED.value}:{where or event_id}",
        arena_id=arena_id,
        check=Check.ARENA_COMPROMISED,
        event_id=event_id,
        seq=seq,
        expected=f"seq {trusted_seq + 1} after hash {trusted_hash}",
        actual=",".join(checks),
        message=(
            f"arena {arena_id} compromised{' again' if again else ''} at {place}, first bad event {event_id} "
            f"(seq {seq}): {', '.join(checks)}. It is not applied; the arena's later records are checked "
            f"quietly against its last good event (seq {trusted_seq}) and applied only if they continue its "
            f"chain; {RECOVERY_HINT}"
        ),
        source=source,
    )


def undecodable_alert(arena_id: str, error: str, source: SourceRef) -> ConservationAlert:
    """A record that is not an event is a hole in the record: reported, never skipped silently."""
    where = source.where()
    return ConservationAlert(
        alert_id=f"{where}:{Check.UNDECODABLE_EVENT.value}",
        arena_id=arena_id,
        check=Check.UNDECODABLE_EVENT,
        event_id=where,
        seq=0,
        expected="a readable event",
        actual=error[:500],
        message=f"the record at {where} is not a readable event",
        source=source,
    )
