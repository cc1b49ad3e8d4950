"""What `arena replay` and `arena audit` print: one progress line, one summary, a row per check."""

from __future__ import annotations

import io

import orjson

from schemas.alerts import CHECK_TITLES, Check
from schemas.events import digest, encode_event
from streams.history.audit import AUDIT_CHECK_TITLES, AuditCheck, audit_records
from streams.history.audit_report import ROWS, audit_lines, offsets_text, replay_summary
from streams.history.progress import Progress
from streams.kafka.topic_reader import TopicRecord
from tests.support.builders import arena, money, with_agents


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _run(progress: Progress, clock: _Clock, steps: int, every_s: float) -> None:
    for done in range(1, steps + 1):
        clock.now += every_s
        progress.update(done * 1_000)
    progress.finish()


def test_on_a_terminal_progress_is_one_line_rewritten_in_place_then_erased() -> None:
    out, clock = io.StringIO(), _Clock()
    _run(Progress(lambda n: f"read {n:,} events", stream=out, tty=True, clock=clock), clock, steps=16, every_s=0.125)
    text = out.getvalue()
    assert "\n" not in text, "a terminal line is rewritten, never a new line"
    assert text.count("\r\x1b[K… read") == 8, "16 reads in 2 s: at most five updates a second"
    assert text.endswith("\r\x1b[K"), "erased so the summary stands alone"


def test_into_a_file_a_short_read_writes_no_progress_and_a_long_one_a_few_plain_lines() -> None:
    out, clock = io.StringIO(), _Clock()
    _run(Progress(lambda n: f"read {n:,} events", stream=out, tty=False, clock=clock), clock, steps=6, every_s=0.5)
    assert out.getvalue() == ""
    out, clock = io.StringIO(), _Clock()
    _run(Progress(lambda n: f"read {n:,} events", stream=out, tty=False, clock=clock), clock, steps=60, every_s=0.5)
    lines = out.getvalue().splitlines()
    assert lines[:3] == ["… read 10,000 events", "… read 20,000 events", "… read 30,000 events"]
    assert len(lines) == 6 and "\r" not in out.getvalue()


def _records(raws: list[bytes]) -> list[TopicRecord]:
    return [TopicRecord(1, offset, 0, b"arena-1", raw) for offset, raw in enumerate(raws)]


def _history_raws() -> list[bytes]:
    h = with_agents(arena(funded=10_000), "a", allocate=1_000)
    h.do("RecordPnL", agent_id="a", amount=money(50), period=1, source="trading")
    return [encode_event(e) for e in h.events]


def test_every_check_has_a_row_under_its_own_name() -> None:
    assert set(CHECK_TITLES) == set(Check) and set(AUDIT_CHECK_TITLES) == set(AuditCheck)
    titles = [title for _, title in ROWS]
    assert len(titles) == len(set(titles)), "two checks share a row"


def _rows(lines: list[str]) -> dict[str, str]:
    return {
        title: line.split(title, 1)[1].strip() for line in lines for _, title in ROWS if line.startswith(f"  {title} ")
    }


def test_an_unknown_account_is_counted_under_known_accounts_not_balanced_postings() -> None:
    raws = _history_raws()
    doc = orjson.loads(raws[1])  # ArenaFunded
    doc["postings"][0]["credit"] = "offshore"
    doc["hash"] = digest(doc)
    raws[1] = orjson.dumps(doc)
    audit = audit_records(_records(raws), topic="arena.events")
    rows = _rows(list(audit_lines(audit, topic="arena.events", start={1: 0}, end={1: len(raws)}, seconds=0.1, limit=5)))
    assert rows["known accounts"] == "FAILED x1"
    assert rows["balanced postings"] == "ok"


def test_an_undecodable_record_has_a_row_of_its_own() -> None:
    raws = _history_raws()
    raws.insert(2, b"{not an event")
    audit = audit_records(_records(raws), topic="arena.events")
    lines = list(audit_lines(audit, topic="arena.events", start={1: 0}, end={1: len(raws)}, seconds=0.1, limit=5))
    rows = _rows(lines)
    assert rows["every record an event"] == "FAILED x1"
    assert rows["no arena compromised"] == "FAILED x1"
    assert any(line.startswith("  ! COMPROMISED arena arena-1 compromised at arena.events[1]@2") for line in lines)


def test_the_replay_summary_is_one_line_with_the_events_read_and_the_end_as_to_takes_it() -> None:
    raws = _history_raws()
    audit = audit_records(_records(raws), topic="arena.events", keep_events=False)
    summary = replay_summary(audit, topic="arena.events", end={0: 0, 1: len(raws) + 2}, seconds=0.25)
    assert "\n" not in summary
    assert summary.startswith(f"replayed {len(raws)} events of arena.events up to 0:0,1:{len(raws) + 2} (exclusive)")
    assert summary.endswith(f"PASS: every check held over {len(raws)} events of 1 arena")
    assert offsets_text({}) == "(no partition)"
