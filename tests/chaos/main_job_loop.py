"""Run the main job again and again, each time on a freshly started broker, optionally under a CPU hog.

Issue 12 was seen on the first `make run` of a fresh clone while the machine was busy: the broker had
just started, the worker created its changelog topics, and the race between "created" and "served"
made it rebalance itself mid-run. This script repeats exactly that situation and counts the outcomes:

    python -m tests.chaos.main_job_loop --runs 10 --hog

Each run: stop the local broker and delete its data (so every topic is created anew), then `arena run`
with a time limit. A run is clean when it exits 0 (audit passed, state equal to the simulation's, no
alert). The table at the end gives each run's exit code, wall time, processing rate and worker restarts.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from streams.broker.launcher import LocalBroker, project_root
from tests.support.cpu_hog import cpu_hog


@dataclass(frozen=True)
class RunOutcome:
    number: int
    exit_code: int | None  # None: killed at the time limit (a hang)
    seconds: float
    rate: str
    restarts: int
    audit: str
    last_line: str

    @property
    def clean(self) -> bool:
        return self.exit_code == 0


def fresh_broker() -> None:
    broker = LocalBroker()
    broker.stop()
    data = broker.paths.home / "data"
    if data.exists():
        shutil.rmtree(data)


def one_run(number: int, *, timeout_s: float, log_dir: Path) -> RunOutcome:
    fresh_broker()
    log_path = log_dir / f"run-{number:02d}.log"
    began = time.monotonic()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "run", "--report-dir", str(log_dir / f"reports-{number:02d}")],
            cwd=project_root(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            code: int | None = process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
    seconds = time.monotonic() - began
    text = log_path.read_text(errors="replace")
    rates = re.findall(r"\(([\d,]+)/s\)", text)
    audit = "PASS" if "PASS" in text and "FAIL" not in text else ("FAIL" if "FAIL" in text else "-")
    lines = [line for line in text.splitlines() if line.strip()]
    return RunOutcome(
        number=number,
        exit_code=code,
        seconds=seconds,
        rate=rates[-1] if rates else "-",
        restarts=text.count("restarting it ("),
        audit=audit,
        last_line=lines[-1][:100] if lines else "",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--hog", action="store_true", help="keep every core busy with a CPU hog meanwhile")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a run counts as hung")
    args = parser.parse_args()
    log_dir = project_root() / ".arena" / f"main-job-loop-{time.strftime('%Y%m%d-%H%M%S')}"
    log_dir.mkdir(parents=True, exist_ok=True)
    outcomes: list[RunOutcome] = []
    with cpu_hog() if args.hog else contextlib.nullcontext(0):
        for number in range(1, args.runs + 1):
            outcome = one_run(number, timeout_s=args.timeout, log_dir=log_dir)
            outcomes.append(outcome)
            code = "HUNG" if outcome.exit_code is None else str(outcome.exit_code)
            print(
                f"run {number:>2}: exit {code:>4}  {outcome.seconds:6.1f}s  {outcome.rate:>6} cmd/s  "
                f"audit {outcome.audit}  worker restarts {outcome.restarts}",
                flush=True,
            )
    clean = sum(o.clean for o in outcomes)
    print(f"{clean}/{len(outcomes)} clean{' under a CPU hog' if args.hog else ''}; logs in {log_dir}")
    for outcome in outcomes:
        if not outcome.clean:
            print(f"  run {outcome.number}: {outcome.last_line}")
    return 0 if clean == len(outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
